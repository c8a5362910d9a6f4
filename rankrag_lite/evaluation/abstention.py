"""Abstention: does the best passage score tell whether any retrieved passage is relevant?

- :func:`unanswerable_variant`: a distractor set's questions with their gold passages removed (no
  passage is relevant any more); mixed with the originals they form an answerable / unanswerable set.
- :func:`auroc`: AUROC of "a relevant passage is present" from each question's best score (ties count
  one half, the Mann-Whitney statistic).
- :func:`abstention_at`: abstain when the best score is below a threshold; precision (abstained
  questions that had no relevant passage) and recall (questions without one that were abstained on).
- :func:`best_threshold`: the threshold with the best abstention F1 on a fitting split (for a score that
  is not a probability, such as BM25, this is the only fair way to pick one).
- :func:`coverage_curve` / :func:`plot_coverage`: accuracy of the answered questions against coverage when
  answering the most confident first; :func:`em_with_abstention`: EM over all questions, an abstention
  counted wrong where an answer existed and right where none did.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def unanswerable_variant(es, suffix: str = "#noans"):
    """A copy of ``es`` whose questions have lost every relevant passage (qids get ``suffix``);
    questions left with no passage at all are dropped."""
    from dataclasses import replace

    items = []
    for it in es.items:
        rel = {pid for pid, g in it.qrels.items() if g >= es.rel_level}
        ps = [p for p in it.passages if p["pid"] not in rel]
        if ps:
            items.append(replace(it, qid=it.qid + suffix, passages=ps, qrels={}))
    return replace(es, name=es.name + " (gold removed)", items=items, notes=list(es.notes))


def auroc(scores, labels) -> float:
    """Probability that a positive outranks a negative (ties one half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs positives and negatives")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def abstention_at(best, has_relevant, threshold: float) -> dict:
    """Abstain where ``best < threshold``: counts, precision, recall, F1 and coverage."""
    b = np.asarray(best, dtype=np.float64)
    rel = np.asarray(has_relevant).astype(bool)
    abst = b < threshold
    tp = int((abst & ~rel).sum())
    precision = tp / int(abst.sum()) if abst.any() else 0.0
    recall = tp / int((~rel).sum()) if (~rel).any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": float(threshold), "abstained": int(abst.sum()), "questions": len(b),
            "coverage": float(1 - abst.mean()), "precision": precision, "recall": recall, "f1": f1,
            "answerable_abstained": int((abst & rel).sum())}


def best_threshold(best, has_relevant) -> float:
    """The threshold (one of the scores, or just above the largest) with the highest abstention F1."""
    b = np.asarray(best, dtype=np.float64)
    cands = np.unique(np.concatenate([b, [np.nextafter(b.max(), np.inf)]]))
    f1 = [abstention_at(b, has_relevant, t)["f1"] for t in cands]
    return float(cands[int(np.argmax(f1))])


def coverage_curve(best, correct) -> list[tuple[float, float]]:
    """(coverage, accuracy of the answered) when answering the ``n`` most confident, n = 1..N."""
    b = np.asarray(best, dtype=np.float64)
    c = np.asarray(correct, dtype=np.float64)
    order = np.argsort(-b, kind="mergesort")
    hits = np.cumsum(c[order])
    n = np.arange(1, len(b) + 1)
    return [(float(k / len(b)), float(h / k)) for k, h in zip(n, hits)]


def em_with_abstention(em, abstained, answerable) -> float:
    """Mean EM over all questions: abstaining is 0 where an answer existed, 1 where none did."""
    em = np.asarray(em, dtype=np.float64)
    a = np.asarray(abstained).astype(bool)
    ok = np.asarray(answerable).astype(bool)
    return float(np.where(a, (~ok).astype(float), np.where(ok, em, 0.0)).mean())


def plot_coverage(curves: dict[str, list[tuple[float, float]]], path: str | os.PathLike,
                  ylabel: str = "accuracy of the answered", title: str = "Accuracy vs coverage") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rankrag_lite.io import write_png

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    for name, pts in curves.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return write_png(fig, path)
