"""Evaluation: datasets with gold labels, rankers side by side, ranx metrics, answer metrics, reports.

Where each idea lives: the evaluation sets (readers, gold labels) in :mod:`.datasets`; the one ranker
protocol (``name``, ``description``, ``score_passages(query, passages)``, ``score_many``), the baselines'
registry :data:`~.rankers.RANKERS` (whose names are :data:`BASELINES`), the model, fusion and run rows
in :mod:`.rankers`; ranking metrics (ranx) and the paired comparison in :mod:`.metrics` (answer metrics,
EM / F1 / Acc, and their means: :mod:`rankrag_lite.answers`); ``evaluate``, a list of steps (check,
build the rankers, rank, metrics, answer, write), in :mod:`.runner`; the report files in :mod:`.report`;
abstention (best-score AUROC, coverage) in :mod:`.abstention`; the ``calibrate`` workflow (fit
P(True) calibration on a dev set, ECE / Brier, reliability diagram) in :mod:`.calibration`.
"""

from rankrag_lite.evaluation.datasets import EVAL_FORMATS, EvalItem, EvalSet, load_eval_set
from rankrag_lite.evaluation.metrics import ranking_metrics
from rankrag_lite.evaluation.rankers import BASELINES, RANKERS, Ranker, Ranking, rank
from rankrag_lite.evaluation.runner import DEFAULT_KS, evaluate

__all__ = ["BASELINES", "DEFAULT_KS", "EVAL_FORMATS", "RANKERS", "EvalItem", "EvalSet", "Ranker", "Ranking",
           "evaluate", "load_eval_set", "rank", "ranking_metrics"]
