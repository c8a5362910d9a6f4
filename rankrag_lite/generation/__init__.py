"""Answer generation from the top-k passages (open-domain QA, FEVER-style claims)."""

from rankrag_lite.generation.answer_file import METRIC_NOTES, answer_file, answer_metrics, gold_answers
from rankrag_lite.generation.answerer import Answerer

__all__ = ["METRIC_NOTES", "Answerer", "answer_file", "answer_metrics", "gold_answers"]
