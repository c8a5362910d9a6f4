"""Answer generation from the top-k passages (open-domain QA, FEVER-style claims).

Where each idea lives: the batched greedy answerer over the paper's inference prompt in :mod:`.answerer`;
answering a candidates file, validated in one pass first, in :mod:`.answer_file` (its metrics and their
means: :mod:`rankrag_lite.answers`)."""

from rankrag_lite.answers import METRIC_NOTES, answer_metrics  # re-exported; their home is answers.py
from rankrag_lite.generation.answer_file import answer_file, gold_answers
from rankrag_lite.generation.answerer import Answerer

__all__ = ["METRIC_NOTES", "Answerer", "answer_file", "answer_metrics", "gold_answers"]
