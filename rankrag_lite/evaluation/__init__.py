"""Evaluation: datasets with gold labels, rankers side by side, ranx metrics, answer metrics, reports;
the ``calibrate`` workflow (fit P(True) calibration on a dev set, ECE / Brier, reliability diagram) in
:mod:`.calibration`."""

from rankrag_lite.evaluation.datasets import EVAL_FORMATS, EvalItem, EvalSet, load_eval_set
from rankrag_lite.evaluation.metrics import ranking_metrics
from rankrag_lite.evaluation.rankers import BASELINES, Ranking
from rankrag_lite.evaluation.runner import DEFAULT_KS, evaluate

__all__ = ["BASELINES", "DEFAULT_KS", "EVAL_FORMATS", "EvalItem", "EvalSet", "Ranking", "evaluate",
           "load_eval_set", "ranking_metrics"]
