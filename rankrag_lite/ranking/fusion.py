"""Score fusion of the first-stage BM25 score with the model's P("True") (``--fuse bm25[:W]``).

Per query, both scores are standardised (z-scores over that query's candidates) and mixed::

    fused = W * z(bm25) + (1 - W) * z(logit P(True))

The BM25 score is the first stage's own score where the candidates come with one (a retrieval run,
TREC DL's BM25 top-100: BM25 recomputed over only the candidates is much weaker there); callers
recompute it over the candidates only where there is no first stage (distractor sets). The model's
score enters as the logit of P(True), so that its scale is not squashed near 0 and 1.

Fusion is reported as its own row ("model + BM25 fusion"), never as the model's number. ``W`` was
chosen on the dev sets only (docs/results.md); :data:`DEFAULT_WEIGHT` is that choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rankrag_lite.errors import RankragError

FIRST_STAGES = ("bm25",)
#: W of ``--fuse bm25`` without a weight, chosen on the dev sets for the shipped two-pass adapter
#: (docs/results.md): W = 0.5 ties W = 0.7 on 2Wiki (MRR 0.973 vs 0.977) and keeps DL19 (0.583 vs 0.554)
DEFAULT_WEIGHT = 0.5
#: P(True) is clipped to [EPS, 1 - EPS] before its logit (fp32 softmax reaches 1.0 exactly)
EPS = 1e-6


@dataclass(frozen=True)
class Fusion:
    """``W`` times the standardised first-stage score plus ``1 - W`` times the standardised model logit."""

    weight: float = DEFAULT_WEIGHT
    first_stage: str = "bm25"

    def __post_init__(self):
        if self.first_stage not in FIRST_STAGES:
            raise ValueError(f"first stage must be one of {FIRST_STAGES}, got {self.first_stage!r}")
        if not (isinstance(self.weight, (int, float)) and 0.0 <= self.weight <= 1.0):
            raise ValueError(f"fusion weight must be in [0, 1], got {self.weight!r}")

    @property
    def label(self) -> str:
        return f"{self.first_stage}:{self.weight:g}"

    def fuse(self, first_stage: Sequence[float], p_true: Sequence[float]) -> list[float]:
        """Fused scores of one query's candidates (same order as the inputs)."""
        if len(first_stage) != len(p_true):
            raise ValueError(f"{len(first_stage)} first-stage scores for {len(p_true)} model scores")
        from rankrag_lite.ranking.calibration import to_logit

        zs, zm = standardise(first_stage), standardise(to_logit(p_true, eps=EPS).tolist())
        w = float(self.weight)
        return [w * a + (1.0 - w) * b for a, b in zip(zs, zm)]


def parse_fuse(spec: str) -> Fusion:
    """``bm25`` or ``bm25:W`` (W in [0, 1]) -> :class:`Fusion`; bad input is one line."""
    text = str(spec).strip()
    name, _, weight = text.partition(":")
    if name not in FIRST_STAGES:
        raise RankragError(f"--fuse {text!r}: expected bm25 or bm25:W (W in [0, 1])")
    if not weight:
        return Fusion(DEFAULT_WEIGHT, name)
    try:
        w = float(weight)
    except ValueError:
        raise RankragError(f"--fuse {text!r}: the weight must be a number in [0, 1]") from None
    if not (math.isfinite(w) and 0.0 <= w <= 1.0):
        raise RankragError(f"--fuse {text!r}: the weight must be in [0, 1]")
    return Fusion(w, name)


def standardise(xs: Sequence[float]) -> list[float]:
    """z-scores (population standard deviation); all zeros when the values are all equal."""
    vals = [float(x) for x in xs]
    if not vals:
        return []
    mean = sum(vals) / len(vals)
    var = sum((x - mean) ** 2 for x in vals) / len(vals)
    sd = math.sqrt(var)
    if not sd > 1e-12:
        return [0.0] * len(vals)
    return [(x - mean) / sd for x in vals]


def first_stage_scores(passages: Sequence[dict], where: str = "") -> list[float]:
    """The first stage's ``score`` of each candidate; a candidate without one is an error."""
    out = []
    for j, p in enumerate(passages, start=1):
        s = p.get("score")
        if s is None or not isinstance(s, (int, float)) or not math.isfinite(float(s)):
            raise RankragError(f"{where}: passage {j} has no first-stage 'score'; --fuse bm25 needs the "
                               "retriever's scores (rankrag-lite retrieve output, rank_llm JSON, a TREC run)")
        out.append(float(s))
    return out
