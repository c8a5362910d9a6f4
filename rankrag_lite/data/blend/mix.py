"""Mixing: the parts' examples sampled to the mix's weights into one shuffled blend."""

from __future__ import annotations

import math
import random

from rankrag_lite.data.blend.config import seeded_rng


def allocate(weights: list[float], size: int) -> list[int]:
    """Split ``size`` over ``weights`` (largest remainder; ties to the earlier entry)."""
    total = sum(weights)
    exact = [size * w / total for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: size - sum(counts)]:
        counts[i] += 1
    return counts


def default_size(available: list[int], weights: list[float]) -> int:
    """The largest blend in which no entry (with a positive weight) repeats an example."""
    total = sum(weights)
    return min(math.floor(n * total / w + 1e-9) for n, w in zip(available, weights) if w > 0)


def sample(examples: list[dict], n: int, rng: random.Random) -> list[dict]:
    """``n`` of ``examples`` without repetition, or all of them as often as ``n`` needs plus a sample."""
    if n <= len(examples):
        return rng.sample(examples, n)
    reps, rest = divmod(n, len(examples))
    return examples * reps + rng.sample(examples, rest)


def mix(entries: list[dict], size: int | None, seed: int) -> list[dict]:
    """The blend: ``entries`` (``{"part", "source", "weight", "examples"}``, in the mix's order) sampled
    to their weights, ``size`` examples in all (default: :func:`default_size`), shuffled. Sets each
    entry's ``used`` count."""
    weights = [e["weight"] for e in entries]
    if size is None:
        size = default_size([len(e["examples"]) for e in entries], weights)
    blend: list[dict] = []
    for e, n in zip(entries, allocate(weights, size)):
        e["used"] = n
        if n:
            blend.extend(sample(e["examples"], n, seeded_rng(seed, "mix", e["part"], e["source"])))
    seeded_rng(seed, "blend").shuffle(blend)
    return blend
