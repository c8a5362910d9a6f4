"""Reranking by P("True"): token detection, the batched scorer, candidate I/O and ``rerank_file``.

Where each idea lives: the "True" / "False" token ids in :mod:`.tokens` (prompts are rendered and
tokenised by :mod:`rankrag_lite.modeling.chat`, the one home shared with training); the batched
scorer in :mod:`.scorer`; what ``rerank`` reads in :mod:`.candidates` (re-exported from
:mod:`rankrag_lite.formats`); chunked reranking into files in :mod:`.rerank`; first-stage fusion in
:mod:`.fusion`; the calibration of P(True) (its type, Platt fit, file beside the model, applied
by the scorer) in :mod:`.calibration`, while the ``calibrate`` workflow that fits and reports it
(ECE / Brier, reliability diagram) is an evaluation: :mod:`rankrag_lite.evaluation.calibration`.
"""

from rankrag_lite.ranking.scorer import SCORE_METHODS, PTrueScorer, naive_score
from rankrag_lite.ranking.tokens import AnswerTokens, answer_token_ids

__all__ = ["SCORE_METHODS", "AnswerTokens", "PTrueScorer", "answer_token_ids", "naive_score"]
