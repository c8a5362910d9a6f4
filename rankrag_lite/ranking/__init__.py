"""Reranking by P("True"): token detection, the batched scorer, candidate I/O and ``rerank_file``."""

from rankrag_lite.ranking.scorer import SCORE_METHODS, PTrueScorer, naive_score
from rankrag_lite.ranking.tokens import AnswerTokens, answer_token_ids

__all__ = ["SCORE_METHODS", "AnswerTokens", "PTrueScorer", "answer_token_ids", "naive_score"]
