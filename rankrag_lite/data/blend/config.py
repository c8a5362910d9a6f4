"""The ``blend`` section of a recipe: its dataclasses and their strict validation."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

from rankrag_lite import prompts
from rankrag_lite.recipes import from_dict, section
from rankrag_lite.data import sources as S
from rankrag_lite.errors import RankragError

PARTS = ("sft", "context_qa", "ra_qa", "ranking", "ra_ranking")
PartName = Literal["sft", "context_qa", "ra_qa", "ranking", "ra_ranking"]


@dataclass
class SourceSpec:
    """One data source of the blend."""

    path: str  #: local path (relative to the data root) or a hub dataset name
    format: str | None = None  #: see :mod:`rankrag_lite.data.sources`; sniffed when absent
    split: str | None = None  #: hub split, or BEIR qrels split (``train`` / ``test``)
    config: str | None = None  #: hub configuration name
    #: files inside the hub repository, passed to ``load_dataset(..., data_files=...)`` (e.g. ChatQA's
    #: ``tatqa/train_arithmetic.json``, which no configuration names)
    data_files: str | list[str] | None = None
    limit: int | None = None  #: first N usable records only (a hub source is streamed until it has them)
    corpus: list[str] = field(default_factory=list)  #: extra passages for this source's BM25 pool
    corpus_limit: int | None = None  #: first N passages of each extra corpus
    qa_instruction: str | None = None  #: key of prompts.DATASET_INSTRUCTIONS for context-rich QA
    claim: bool | None = None  #: FEVER claim prompts (default: true for climate-fever)
    qrels: str | None = None  #: TREC qrels judging a retrieval run (format ``rankllm``): judged hits
    min_grade: int = 1  #: with ``qrels``: the lowest grade that is relevant (grade 0: negative)
    ranking_positives: int | None = None  #: this source's positives per query (default: the blend's)
    ranking_negatives: int | None = None  #: this source's negatives per query (default: the blend's)


@dataclass
class MixEntry:
    """One (part, source) pair of the blend with its raw weight (App. B style; normalised)."""

    part: PartName  #: one of :data:`PARTS`
    source: str  #: a key of ``blend.sources``
    weight: float  #: raw weight, >= 0; the weights are normalised over the mix


@dataclass
class JudgeFilter:
    """``blend.judge``: drop the ranking pairs a judge disagrees with (scores from ``rankrag-lite label``)."""

    #: the ``rankrag-lite label`` output (a relative path is from the working directory, like a run's
    #: output); a pair of the ranking / ra_ranking parts is found in it by its question and passage
    labels: str
    #: drop a negative (BM25 or given) the judge scores at or above this: a likely false negative. The
    #: scale is the judge's: P(True) (calibrated if the model has a calibration), MiniLM cosine, or a fused
    #: per-question z-score
    drop_negatives_at_or_above: float | None = None
    #: drop a positive the judge scores below this (a gold passage that does not answer, an answer
    #: string matched by chance)
    drop_positives_below: float | None = None
    #: a row with a pair the judge did not score: "keep" it, or "drop" it (train only on judged pairs,
    #: e.g. when only the pairs of one blend.jsonl were labelled)
    unjudged: Literal["keep", "drop"] = "keep"
    #: where the filter applies. "pools" (default): to the parts' pools before the mix draws, so the
    #: blend keeps its size and the mix draws other rows in place of the dropped ones. "blend": the mix
    #: draws exactly as without a judge and the drawn rows the judge disagrees with are then removed
    #: (with their length partners), so every row left is a row of the unjudged blend: the blend shrinks,
    #: and a run on it measures the labels alone (a controlled comparison against the unjudged blend)
    apply_to: Literal["pools", "blend"] = "pools"


@dataclass
class BlendConfig:
    """The ``blend`` section of a recipe (field order is the manifest's ``recipe.blend`` order)."""

    sources: dict[str, SourceSpec]  #: the data sources by name
    mix: list[MixEntry]  #: the (part, source, weight) entries of the blend
    size: int | None = None  #: examples in blend.jsonl (default: the most that needs no repetition)
    seed: int | None = None  #: default: the recipe's top-level seed, else 0
    exclude: list[str] = field(default_factory=list)  #: evaluation files whose questions are removed
    bm25_backend: str = "bm25s"  #: ``bm25s`` or ``pyserini``, for the hard negatives
    retrieval_depth: int = 20  #: BM25 hits searched per question for negatives / answer passages
    num_passages: int = 5  #: passages per RA-QA / RA-ranking example
    ranking_positives: int = 1  #: positives per query in the ranking part
    ranking_negatives: int = 3  #: negatives per query in the ranking part
    max_passage_words: int | None = None  #: cut passages to about this many words
    #: passage length must not tell True from False. The real negatives (distractors, BM25 hits) run
    #: longer than the gold passages, and a small model learns "short means relevant" ("off").
    #: "cut": cut a longer negative to the length of one of its question's positives (drawn with the
    #: seed); shorter negatives stay, so negatives end up shorter than positives and a small model
    #: learns "long means relevant" instead (measured: docs/results.md). "paired" (default): each
    #: negative comes with a positive of the question, both cut to the shorter one's length, so the
    #: True and False rows have the same lengths, over the whole part and not only per question.
    negative_lengths: Literal["paired", "cut", "off"] = "paired"
    #: judge labels (:class:`JudgeFilter`): drop likely false negatives and false positives of the
    #: ranking parts. In "paired" mode a dropped pair's partner (the positive or negative cut to its
    #: length) goes too, so that lengths stay matched; an RA-ranking row with a dropped passage is dropped
    judge: JudgeFilter | None = None


def seeded_rng(seed: int, *names: str) -> random.Random:
    """The random stream of one choice of the blend (``names`` say which: part, source, query id):
    every draw depends on the seed and on what it is for, not on the order things are built in."""
    return random.Random(f"{seed}|" + "|".join(names))


def parse_blend(recipe: dict) -> BlendConfig:
    """Validate the ``blend`` section of a recipe (unknown keys, wrong types, bad values -> one line)."""
    cfg = from_dict(BlendConfig, section(recipe, "blend"), "blend")
    if cfg.seed is None:
        top = recipe.get("seed", 0)
        if not isinstance(top, int) or isinstance(top, bool):
            raise RankragError(f"recipe seed must be an integer, got {top!r}")
        cfg.seed = top
    if not cfg.sources:
        raise RankragError("blend.sources: no sources")
    if not cfg.mix:
        raise RankragError("blend.mix: no entries")
    seen = set()
    for i, m in enumerate(cfg.mix):
        if m.source not in cfg.sources:
            raise RankragError(f"blend.mix[{i}]: unknown source {m.source!r}; sources: {sorted(cfg.sources)}")
        if not math.isfinite(m.weight) or m.weight < 0:
            raise RankragError(f"blend.mix[{i}].weight must be a finite number >= 0, got {m.weight!r}")
        if (m.part, m.source) in seen:
            raise RankragError(f"blend.mix[{i}]: ({m.part}, {m.source}) appears twice")
        seen.add((m.part, m.source))
    total = sum(m.weight for m in cfg.mix)
    if not total > 0:
        raise RankragError(f"blend.mix: weights sum to {total}; they must sum to a positive number")
    for name, s in cfg.sources.items():
        if s.format is not None and s.format not in S.SOURCE_FORMATS:
            raise RankragError(f"blend.sources.{name}.format: unknown format {s.format!r}; "
                               f"choose one of {list(S.SOURCE_FORMATS)}")
        if s.qa_instruction is not None and s.qa_instruction not in prompts.DATASET_INSTRUCTIONS:
            raise RankragError(f"blend.sources.{name}.qa_instruction: unknown {s.qa_instruction!r}; "
                               f"choose one of {sorted(prompts.DATASET_INSTRUCTIONS)}")
        for key in ("limit", "corpus_limit", "min_grade", "ranking_positives"):
            v = getattr(s, key)
            if v is not None and v < 1:
                raise RankragError(f"blend.sources.{name}.{key} must be >= 1, got {v}")
    from rankrag_lite.retrieval.base import check_bm25_backend

    check_bm25_backend(cfg.bm25_backend)
    for key in ("retrieval_depth", "num_passages", "ranking_positives", "max_passage_words", "size"):
        v = getattr(cfg, key)
        if v is not None and v < 1:
            raise RankragError(f"blend.{key} must be >= 1, got {v}")
    for name, s in cfg.sources.items():
        if s.ranking_negatives is not None and s.ranking_negatives < 0:
            raise RankragError(f"blend.sources.{name}.ranking_negatives must be >= 0, got {s.ranking_negatives}")
    if cfg.ranking_negatives < 0:
        raise RankragError(f"blend.ranking_negatives must be >= 0, got {cfg.ranking_negatives}")
    if cfg.judge is not None:
        j = cfg.judge
        if j.drop_negatives_at_or_above is None and j.drop_positives_below is None and j.unjudged == "keep":
            raise RankragError("blend.judge: give drop_negatives_at_or_above, drop_positives_below or "
                               "unjudged: drop (otherwise the labels change nothing)")
        for key in ("drop_negatives_at_or_above", "drop_positives_below"):
            v = getattr(j, key)
            if v is not None and not math.isfinite(v):
                raise RankragError(f"blend.judge.{key} must be a finite number, got {v!r}")
    if cfg.num_passages < 2:
        raise RankragError("blend.num_passages must be >= 2 (a gold passage and at least one other)")
    return cfg
