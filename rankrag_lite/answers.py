"""Answer normalisation and matching, in one place: blend labels and evaluation share them.

- :func:`normalize_answer`: SQuAD normalisation (lowercase, drop punctuation and a/an/the,
  collapse white space).
- :func:`has_answer`: DPR-style containment: the passage's token sequence contains an answer's
  token sequence, after Unicode NFD normalisation and lowercasing (DPR ``SimpleTokenizer``:
  alphanumeric runs and single non-space symbols).
- :func:`exact_match`, :func:`f1`, :func:`accuracy`: max over gold answers.
- :func:`answer_metrics` (all three of one prediction, keyed ``em`` / ``f1`` / ``acc``: the one spelling
  inside the kit) and :func:`mean_answer_metrics` (their means over many predictions, the one place
  they are averaged: ``answer``, ``rag`` and ``evaluate`` share it). :data:`METRIC_NOTES` says what each
  means; :data:`METRIC_LABELS` is how ``evaluate``'s report spells them (``EM`` / ``F1`` / ``Acc``).
"""

from __future__ import annotations

import collections
import re
import string
import unicodedata

import regex
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


# DPR SimpleTokenizer: runs of letters/digits/marks, or any single non-space character.
_TOKEN = regex.compile(r"[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]", flags=regex.IGNORECASE | regex.UNICODE | regex.MULTILINE)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _dpr_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFD", text)
    return [t.lower() for t in _TOKEN.findall(text)]


def has_answer(answers: Iterable[str], text: str) -> bool:
    """True if some answer's token sequence occurs in ``text`` (DPR ``has_answer``, string mode)."""
    tokens = _dpr_tokens(text)
    n = len(tokens)
    for answer in answers:
        ans = _dpr_tokens(answer)
        k = len(ans)
        if k == 0:
            continue
        for i in range(n - k + 1):
            if tokens[i : i + k] == ans:
                return True
    return False


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def _f1_one(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if not p or not g:
        return float(p == g)
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, answers: Iterable[str]) -> float:
    return max((_f1_one(prediction, a) for a in answers), default=0.0)


def accuracy(prediction: str, answers: Iterable[str]) -> float:
    """Normalised gold answer contained in the normalised prediction (the paper's TQA/PopQA Acc)."""
    pred = normalize_answer(prediction)
    return float(any(normalize_answer(a) and normalize_answer(a) in pred for a in answers))


def normalize_question(q: str) -> str:
    """Key used to match questions across files (``--exclude``): SQuAD-normalised text."""
    return normalize_answer(q)


#: What each answer metric means (written next to the numbers); its keys are the metrics' one spelling.
METRIC_NOTES = {
    "em": "exact match after SQuAD normalisation (lowercase, no punctuation/articles), max over gold answers",
    "f1": "token F1 after SQuAD normalisation, max over gold answers",
    "acc": "accuracy: a normalised gold answer is contained in the normalised prediction",
}
#: The metrics as ``evaluate``'s report (metrics.json, report.md) names its columns.
METRIC_LABELS = {"em": "EM", "f1": "F1", "acc": "Acc"}


def answer_metrics(prediction: str, answers: list[str]) -> dict:
    """``{"em", "f1", "acc"}`` of one prediction; ``{}`` without gold answers (nothing to score)."""
    if not answers:
        return {}
    return {"em": exact_match(prediction, answers), "f1": f1(prediction, answers),
            "acc": accuracy(prediction, answers)}


def mean_answer_metrics(rows: Iterable[dict]) -> dict[str, float]:
    """The mean of each metric of :data:`METRIC_NOTES` over the rows that carry it (a row: the
    metrics of one prediction, as :func:`answer_metrics`, perhaps with other fields); ``{}`` when no
    row was scored. Means are numpy's (pairwise summation)."""
    import numpy as np

    values: dict[str, list[float]] = {}
    for row in rows:
        for key in METRIC_NOTES:
            if key in row:
                values.setdefault(key, []).append(row[key])
    return {key: float(np.mean(v)) for key, v in values.items()}
