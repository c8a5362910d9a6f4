"""The ``calibrate`` workflow: how well P(True) is calibrated on a labelled dev set, and a fit for it.

A dev set's questions with gold labels become labelled (question, passage, relevant?) pairs
(:func:`labelled_pairs`): the first half of the questions is the fitting split, the rest the held-out
split. The scorer scores them raw, :func:`~rankrag_lite.ranking.calibration.fit_platt` fits on the
fitting split, and both splits are measured before and after (:func:`calibrate_pairs`): expected
calibration error (equal-width bins, weighted by bin size), Brier score, and the reliability diagram
(PNG, matplotlib). :func:`calibrate` runs it all and writes the calibration file, the diagram and,
when asked, every pair's scores; ``rankrag-lite calibrate`` is its thin front.

The calibration itself (the type, its fit, where a model's file lives and how the scorer applies it)
is a ranking idea: :mod:`rankrag_lite.ranking.calibration`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rankrag_lite.errors import RankragError
from rankrag_lite.ranking.calibration import Calibration, fit_platt


# -- metrics ----------------------------------------------------------------------------------
def ece(probs, labels, n_bins: int = 10) -> float:
    """Expected calibration error: sum over equal-width bins of |mean p - mean y| x bin share."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.size == 0:
        raise ValueError("ece of no scores")
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def brier(probs, labels) -> float:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.size == 0:
        raise ValueError("brier of no scores")
    return float(np.mean((p - y) ** 2))


def reliability(probs, labels, n_bins: int = 10) -> list[dict]:
    """Per bin: range, count, mean predicted probability, fraction relevant."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        m = bins == b
        out.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "count": int(m.sum()),
                    "mean_p": float(p[m].mean()) if m.any() else None,
                    "frac_relevant": float(y[m].mean()) if m.any() else None})
    return out


def metrics(probs, labels, n_bins: int = 10) -> dict:
    return {"pairs": len(labels), "positives": int(np.sum(labels)), "ece": ece(probs, labels, n_bins),
            "brier": brier(probs, labels)}


def plot_reliability(curves: dict[str, tuple], path: str | os.PathLike, n_bins: int = 10,
                     title: str = "Reliability of P(True)") -> Path:
    """Reliability diagram PNG: one line per ``name -> (probs, labels)``, the diagonal for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rankrag_lite.io import write_png

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name, (probs, labels) in curves.items():
        rows = [r for r in reliability(probs, labels, n_bins) if r["count"]]
        ax.plot([r["mean_p"] for r in rows], [r["frac_relevant"] for r in rows], marker="o",
                label=f"{name} (ECE {ece(probs, labels, n_bins):.3f})")
    ax.set_xlabel("predicted P(relevant)")
    ax.set_ylabel("fraction relevant")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return write_png(fig, path)


# -- the workflow: an evaluation set -> labelled pairs -> fit on one half, report on the other
def labelled_pairs(es, passages: int | None = None) -> list[dict]:
    """``{qid, pid, question, passage, label, split}`` for each question's first ``passages`` candidates;
    the first half of the questions is the fitting split, the rest the held-out split."""
    items = [it for it in es.items if it.qrels]
    if len(items) < 2:
        raise RankragError(f"{es.name}: calibration needs at least 2 questions with gold labels, got {len(items)}")
    half = (len(items) + 1) // 2
    rows = []
    for i, it in enumerate(items):
        for p in it.passages[:passages]:
            rows.append({"qid": it.qid, "pid": p["pid"], "question": it.question, "passage": p,
                         "label": int(it.qrels.get(p["pid"], 0) >= es.rel_level),
                         "split": "fit" if i < half else "heldout"})
    return rows


def calibrate_pairs(scorer, rows: list[dict], *, model: str, fingerprint: str, data: str = "",
                    n_bins: int = 10) -> tuple[Calibration, list[float]]:
    """Score ``rows`` raw (the scorer must carry no calibration), fit on ``split == 'fit'`` and
    measure ECE / Brier before and after on both splits. Returns the calibration and the raw scores."""
    if scorer.calibration is not None:
        raise ValueError("calibrate_pairs needs a scorer without calibration (raw P(True))")
    raw = scorer.score([(r["question"], r["passage"]) for r in rows])
    fit_i = [i for i, r in enumerate(rows) if r["split"] == "fit"]
    held_i = [i for i, r in enumerate(rows) if r["split"] == "heldout"]
    y = np.asarray([r["label"] for r in rows])
    t, b = fit_platt([raw[i] for i in fit_i], y[fit_i])
    cal = Calibration(temperature=t, bias=b, model=model, fingerprint=fingerprint, method=scorer.method,
                      claim=scorer.claim, load_in_4bit=scorer.load_in_4bit)
    after = cal.apply(raw)
    report = {"data": data, "questions": {s: len({rows[i]["qid"] for i in idx})
                                          for s, idx in (("fit", fit_i), ("heldout", held_i))}}
    for s, idx in (("fit", fit_i), ("heldout", held_i)):
        if idx:
            report[s] = {"before": metrics([raw[i] for i in idx], y[idx], n_bins),
                         "after": metrics([after[i] for i in idx], y[idx], n_bins)}
    report["bins"] = n_bins
    cal.fit = report
    return cal, raw


def fitting_pairs(es, passages: int | None = None, where: str | os.PathLike | None = None) -> list[dict]:
    """:func:`labelled_pairs`, refused (one line naming ``where``, the data file) when the fitting split
    lacks relevant or non-relevant passages: checked before any model loads."""
    rows = labelled_pairs(es, passages)
    if len({r["label"] for r in rows if r["split"] == "fit"}) < 2:
        raise RankragError(f"{where if where is not None else es.name}: the fitting split needs both relevant "
                           "and non-relevant passages")
    return rows


def calibrate(scorer, rows: list[dict], *, model: str, fingerprint: str, out: str | os.PathLike,
              plot: str | os.PathLike, scores: str | os.PathLike | None = None, data: str = "",
              n_bins: int = 10) -> Calibration:
    """Fit and report (:func:`calibrate_pairs`), then write the held-out split's reliability diagram
    (``plot``, raw against calibrated), every pair's raw and calibrated score (``scores``, JSONL, when
    given) and the calibration file (``out``, which records the diagram's path). Returns the calibration."""
    from rankrag_lite.io import atomic_write, dumps

    cal, raw = calibrate_pairs(scorer, rows, model=model, fingerprint=fingerprint, data=data, n_bins=n_bins)
    after = cal.apply(raw)
    held = [i for i, r in enumerate(rows) if r["split"] == "heldout"] or list(range(len(rows)))
    labels = [rows[i]["label"] for i in held]
    plot_reliability({"raw P(True)": ([raw[i] for i in held], labels),
                      "calibrated": ([after[i] for i in held], labels)}, plot, n_bins=n_bins,
                     title=f"Reliability, held-out split ({len(held)} pairs)")
    if scores is not None:
        with atomic_write(scores) as f:
            for r, s_raw, s_cal in zip(rows, raw, after):
                f.write(dumps({"qid": r["qid"], "pid": r["pid"], "split": r["split"], "label": r["label"],
                               "raw": s_raw, "calibrated": s_cal}) + "\n")
    cal.fit["plot"] = str(plot)
    cal.save(out)
    return cal
