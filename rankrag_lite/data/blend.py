"""The Stage-2 training blend (RankRAG Sec. 4.2, App. B): five parts, BM25 hard negatives, mixed to ratios.

Parts (every example is ``{"messages", "part", "source", "meta"}``, its messages made by
:mod:`rankrag_lite.prompts`):

1. ``sft``: SFT chat conversations (:func:`prompts.sft_chat`).
2. ``context_qa``: the gold passage + (history) + question -> answer, with the source's per-dataset
   instruction (:func:`prompts.context_rich_qa`).
3. ``ra_qa``: the gold passage(s) + BM25 passages that do NOT contain an answer, ``num_passages`` in
   all, shuffled -> answer (:func:`prompts.retrieval_augmented_qa`). A source without gold passages
   (e.g. WebQuestions) takes its best BM25 passage that contains an answer as the gold one.
4. ``ranking``: (question, passage) -> ``True``/``False`` (:func:`prompts.context_ranking`;
   claims use :func:`prompts.claim_ranking`). Positives: gold passages (or, without gold flags,
   BM25 passages that contain an answer; for ranking data the given positives / qrels). Negatives:
   the source's own negatives (``{query, pos, neg}``, Climate-FEVER NOT_ENOUGH_INFO evidence), then
   BM25 hard negatives: never a positive, never a passage that contains an answer.
5. ``ra_ranking``: ``num_passages`` shuffled passages (1+ positives, the rest hard negatives) -> the
   relevant ids, ``Passage 2, Passage 5`` (:func:`prompts.retrieval_augmented_ranking`). A passage
   is relevant iff it is gold or contains an answer.

BM25 (``rankrag_lite.retrieval.build_index``) indexes, per source, the pool of passages that source
has (gold and distractor passages of all its questions, its corpus) plus the corpora the recipe
lists under the source's ``corpus``. ``max_passage_words`` cuts passages (gold ones around the
answer) so that examples stay short for CPU training; answer containment of negatives is checked
on the full passage.

Output folder (built in a temporary sibling and swapped in on success): ``{part}.jsonl`` for each
part in the mix (every example the sources gave), ``blend.jsonl`` (examples sampled to the mix's
weights, smaller sources repeated when the blend asks for more than they have, shuffled) and
``manifest.json`` (counts per part and source, the recipe, seed, excluded questions, sha256 of every
file). Same recipe + seed -> byte-identical files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rankrag_lite import prompts
from rankrag_lite.answers import has_answer, normalize_question
from rankrag_lite.config import from_dict, load_recipe, section
from rankrag_lite.data import sources as S
from rankrag_lite.data.schemas import Passage
from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_dir, dumps, sha256_file, write_json
from rankrag_lite.progress import log, track

PARTS = ("sft", "context_qa", "ra_qa", "ranking", "ra_ranking")
PartName = Literal["sft", "context_qa", "ra_qa", "ranking", "ra_ranking"]
#: formats whose records are queries with positive / negative passages (not questions with answers)
RANKING_SOURCE_FORMATS = ("qpn", "beir", "msmarco", "climate-fever", "rankllm")


# --------------------------------------------------------------------------------------------------
# recipe
# --------------------------------------------------------------------------------------------------


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

    part: PartName
    source: str
    weight: float


@dataclass
class BlendConfig:
    sources: dict[str, SourceSpec]
    mix: list[MixEntry]
    size: int | None = None  #: examples in blend.jsonl (default: the most that needs no repetition)
    seed: int | None = None  #: default: the recipe's top-level seed, else 0
    exclude: list[str] = field(default_factory=list)  #: evaluation files whose questions are removed
    bm25_backend: str = "bm25s"
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
        if s.format is not None and s.format not in S.FORMATS:
            raise RankragError(f"blend.sources.{name}.format: unknown format {s.format!r}; "
                               f"choose one of {list(S.FORMATS)}")
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
    if cfg.num_passages < 2:
        raise RankragError("blend.num_passages must be >= 2 (a gold passage and at least one other)")
    return cfg


# --------------------------------------------------------------------------------------------------
# sources -> queries
# --------------------------------------------------------------------------------------------------


@dataclass
class _Query:
    qid: str
    text: str
    answers: list[str]
    golds: list[Passage]
    negs: list[Passage]
    history: list[dict]
    others: list[Passage] = field(default_factory=list)  # passages of the record that are not gold


def _key(p) -> tuple[str, str]:
    title = p.get("title", "") if isinstance(p, dict) else p.title
    text = p.get("text", "") if isinstance(p, dict) else p.text
    return (title or "", " ".join(text.split()))


def resolve(path: str, data_root: Path | None) -> str:
    """A recipe path: relative to the data root if it exists there; a hub name otherwise."""
    p = Path(os.path.expanduser(path))
    if p.is_absolute():
        return str(p)
    if data_root is not None:
        cand = data_root / p
        if cand.exists() or S.is_local(path):
            return str(cand)
    return path


def _source_format(spec: SourceSpec, where: str) -> str:
    if spec.format:
        return spec.format
    raw = S._open(where, None, spec.split, spec.config, spec.data_files, stream=True)  # the first row tells
    return raw.fmt


class _Source:
    """A loaded source: queries (QA or ranking) or chat items, its BM25 pool and hits."""

    def __init__(self, name: str, spec: SourceSpec, cfg: BlendConfig, data_root: Path | None,
                 needs: set[str]):
        self.name, self.spec, self.cfg = name, spec, cfg
        self.where = resolve(spec.path, data_root)
        self.data_root = data_root
        self.chat: list[dict] = []
        self.queries: list[_Query] = []
        self.removed = 0
        self._hits: dict[str, list[dict]] | None = None
        if needs == {"sft"}:
            self.fmt = spec.format
            items = S.load_chat(self.where, spec.format, spec.split, spec.limit, config=spec.config,
                                data_files=spec.data_files)
            self.chat = [{"messages": it.messages, "source_detail": it.source} for it in items]
            return
        if "sft" in needs:
            raise RankragError(f"source {name!r} is used for 'sft' and for other parts; give it one role")
        self.fmt = _source_format(spec, self.where)
        self.claim = spec.claim if spec.claim is not None else self.fmt == "climate-fever"
        if self.fmt in RANKING_SOURCE_FORMATS:
            qrels = resolve(spec.qrels, data_root) if spec.qrels else None
            items = S.load_ranking(self.where, self.fmt, spec.split, spec.limit, config=spec.config,
                                   qrels=qrels, min_grade=spec.min_grade, data_files=spec.data_files)
            for it in items:
                self.queries.append(_Query(it.qid, it.query, [], list(it.positives), list(it.negatives), []))
        else:
            for it in S.load_qa(self.where, self.fmt, spec.split, spec.limit, config=spec.config,
                                data_files=spec.data_files):
                golds = [p for p in it.passages if p.is_gold]
                others = [p for p in it.passages if not p.is_gold]
                self.queries.append(_Query(it.qid, it.question, list(it.answers), golds, [], list(it.history),
                                           others=others))
        if not self.queries:
            raise RankragError(f"source {name!r} ({self.where}): no records")

    def exclude(self, banned: set[str]) -> None:
        if not banned or not self.queries:
            return
        kept = [q for q in self.queries if normalize_question(q.text) not in banned]
        self.removed = len(self.queries) - len(kept)
        self.queries = kept
        if not kept:
            raise RankragError(f"source {self.name!r}: every question is in the excluded evaluation files")

    # -- BM25 ----------------------------------------------------------------------------------------

    def pool(self) -> list[dict]:
        docs: list[dict] = []
        seen: set[tuple[str, str]] = set()

        def add(title: str, text: str) -> None:
            k = (title or "", " ".join(text.split()))
            if not k[1] or k in seen:
                return
            seen.add(k)
            docs.append({"id": f"d{len(docs)}", "title": k[0], "text": text})

        for q in self.queries:
            for p in q.golds + q.negs + q.others:
                add(p.title, p.text)
        corpora = [resolve(c, self.data_root) for c in self.spec.corpus]
        if self.fmt == "beir":  # a BEIR source brings its own corpus
            corpora.insert(0, self.where)
        for where in corpora:
            for d in S.load_corpus(where, limit=self.spec.corpus_limit):
                add(d["title"], d["text"])
        if not docs:
            raise RankragError(f"source {self.name!r}: empty corpus for BM25 (no passages and no 'corpus')")
        return docs

    def hits(self) -> dict[str, list[dict]]:
        """BM25 top hits per query id (computed once)."""
        if self._hits is None:
            from rankrag_lite.retrieval import build_index

            docs = self.pool()
            log(f"blend: {self.name}: BM25 ({self.cfg.bm25_backend}) over {len(docs)} passages, "
                f"{len(self.queries)} queries")
            index = build_index(docs, backend=self.cfg.bm25_backend)
            k = min(len(docs), self.cfg.retrieval_depth + max((len(q.golds) for q in self.queries), default=0))
            results = index.search([q.text for q in self.queries], k=k)
            self._hits = {}
            for q, hs in zip(self.queries, results):
                self._hits[q.qid] = [{"title": h.title, "text": h.text} for h in hs]
        return self._hits

    def negatives(self, q: _Query, positives: list[Passage]) -> list[Passage]:
        """Given negatives, then BM25 hard negatives: not a positive, not gold, no answer in their title
        or text (checked on the whole passage, before any cut)."""
        taken = {_key(p) for p in positives} | {_key(p) for p in q.golds}
        out: list[Passage] = []

        def ok(title: str, text: str) -> bool:
            k = _key({"title": title, "text": text})
            if k in taken or not k[1]:
                return False
            if q.answers and has_answer(q.answers, f"{title}\n{text}"):  # title too: the model sees it
                return False
            taken.add(k)
            return True

        for p in q.negs:
            if ok(p.title, p.text):
                out.append(Passage(text=p.text, title=p.title, pid="given", is_gold=False))
        for h in self.hits()[q.qid]:
            if ok(h["title"], h["text"]):
                out.append(Passage(text=h["text"], title=h["title"], pid="bm25", is_gold=False))
        return out

    def answer_passages(self, q: _Query) -> list[Passage]:
        """BM25 hits that contain an answer (positives for a question without gold passages)."""
        if not q.answers:
            return []
        gold_keys = {_key(p) for p in q.golds}
        return [Passage(text=h["text"], title=h["title"], pid="answer", is_gold=False)
                for h in self.hits()[q.qid] if _key(h) not in gold_keys and has_answer(q.answers, h["text"])]

    def positives(self, q: _Query) -> list[tuple[Passage, str]]:
        """(passage, kind) positives: gold (kind 'gold') or, without gold, answer-containing BM25 hits."""
        if q.golds:
            return [(p, "gold") for p in q.golds]
        return [(p, "answer") for p in self.answer_passages(q)]


# --------------------------------------------------------------------------------------------------
# passage cutting
# --------------------------------------------------------------------------------------------------


def cut_passage(p: Passage, max_words: int | None, answers: list[str] | None = None) -> dict:
    """``{title, text}`` with the text cut to ``max_words`` words; with ``answers``, the window of that
    size that contains an answer (the first such), else the first ``max_words`` words."""
    words = p.text.split()
    if max_words is None or len(words) <= max_words:
        return {"title": p.title, "text": " ".join(words)}
    if answers and has_answer(answers, p.text):
        step = max(1, max_words // 4)
        for start in range(0, len(words) - max_words + step, step):
            start = min(start, len(words) - max_words)  # the last window is full-length too
            window = " ".join(words[start:start + max_words])
            if has_answer(answers, window):
                return {"title": p.title, "text": window}
    return {"title": p.title, "text": " ".join(words[:max_words])}


# --------------------------------------------------------------------------------------------------
# parts
# --------------------------------------------------------------------------------------------------


def _ex(messages: list[dict], part: str, source: str, qid: str, answers: list[str], kind: str) -> dict:
    return {"messages": messages, "part": part, "source": source,
            "meta": {"qid": qid, "answers": list(answers), "kind": kind}}


def _rng(seed: int, *names: str) -> random.Random:
    return random.Random(f"{seed}|" + "|".join(names))


def _need_answers(src: _Source, part: str) -> None:
    if src.fmt in RANKING_SOURCE_FORMATS or not any(q.answers for q in src.queries):
        raise RankragError(f"part {part!r} needs questions with answers; source {src.name!r} "
                           f"({src.where}, format {src.fmt}) has none")


def part_sft(src: _Source, cfg: BlendConfig) -> list[dict]:
    if not src.chat:
        raise RankragError(f"part 'sft' needs chat data; source {src.name!r} has none")
    return [_ex(prompts.sft_chat(c["messages"]), "sft", src.name, str(i), [], "chat")
            for i, c in enumerate(src.chat)]


def part_context_qa(src: _Source, cfg: BlendConfig) -> tuple[list[dict], int]:
    _need_answers(src, "context_qa")
    out, skipped = [], 0
    for q in src.queries:
        if not q.golds or not q.answers:
            skipped += 1
            continue
        gold = next((p for p in q.golds if has_answer(q.answers, p.text)), q.golds[0])
        shown = cut_passage(gold, cfg.max_passage_words, q.answers)
        msgs = prompts.context_rich_qa(q.text, shown, answer=q.answers[0], dataset=src.spec.qa_instruction,
                                       history=q.history)
        out.append(_ex(msgs, "context_qa", src.name, q.qid, q.answers, "gold"))
    return out, skipped


def part_ra_qa(src: _Source, cfg: BlendConfig) -> tuple[list[dict], int]:
    _need_answers(src, "ra_qa")
    k = cfg.num_passages
    out, skipped = [], 0
    for q in track(src.queries, f"RA-QA {src.name}"):
        if not q.answers:
            skipped += 1
            continue
        golds = q.golds[: k - 1] if q.golds else src.answer_passages(q)[:1]
        if not golds:
            skipped += 1
            continue
        negs = src.negatives(q, golds)[: k - len(golds)]
        if len(golds) + len(negs) < k:
            skipped += 1
            continue
        shown = [cut_passage(p, cfg.max_passage_words, q.answers) for p in golds]
        shown += [cut_passage(p, cfg.max_passage_words) for p in negs]
        _rng(cfg.seed, "ra_qa", src.name, q.qid).shuffle(shown)
        msgs = prompts.retrieval_augmented_qa(q.text, shown, answer=q.answers[0])
        out.append(_ex(msgs, "ra_qa", src.name, q.qid, q.answers, "gold" if q.golds else "answer"))
    return out, skipped


def part_ranking(src: _Source, cfg: BlendConfig) -> tuple[list[dict], int]:
    out, skipped = [], 0
    for q in track(src.queries, f"ranking {src.name}"):
        pos = src.positives(q)
        if not pos:
            skipped += 1
            continue
        n_pos = src.spec.ranking_positives or cfg.ranking_positives
        n_neg = cfg.ranking_negatives if src.spec.ranking_negatives is None else src.spec.ranking_negatives
        pos = pos[:n_pos]
        make = prompts.claim_ranking if src.claim else prompts.context_ranking
        negs = src.negatives(q, [p for p, _ in pos])[:n_neg]
        if cfg.negative_lengths == "paired":
            for i, n in enumerate(negs):
                p, kind = pos[i % len(pos)]
                words = min(len(n.text.split()), len(p.text.split()), cfg.max_passage_words or 10**9)
                out.append(_ex(make(q.text, cut_passage(p, words, q.answers), label=True),
                               "ranking", src.name, q.qid, q.answers, kind))
                out.append(_ex(make(q.text, cut_passage(n, words), label=False),
                               "ranking", src.name, q.qid, q.answers, f"{n.pid}_negative"))
            continue
        pos_cut = [cut_passage(p, cfg.max_passage_words, q.answers) for p, _ in pos]
        for (p, kind), cut in zip(pos, pos_cut):
            out.append(_ex(make(q.text, cut, label=True), "ranking", src.name, q.qid, q.answers, kind))
        if cfg.negative_lengths == "cut":
            rng = _rng(cfg.seed, "ranking-lengths", src.name, q.qid)
            pos_lengths = [max(1, len(c["text"].split())) for c in pos_cut]
        for n in negs:
            words = cfg.max_passage_words
            if cfg.negative_lengths == "cut":
                target = rng.choice(pos_lengths)
                words = target if words is None else min(words, target)
            msgs = make(q.text, cut_passage(n, words), label=False)
            out.append(_ex(msgs, "ranking", src.name, q.qid, q.answers, f"{n.pid}_negative"))
    return out, skipped


def part_ra_ranking(src: _Source, cfg: BlendConfig) -> tuple[list[dict], int]:
    if src.claim:
        raise RankragError(f"part 'ra_ranking' takes questions; source {src.name!r} holds claims")
    k = cfg.num_passages
    out, skipped = [], 0
    for q in track(src.queries, f"RA-ranking {src.name}"):
        rng = _rng(cfg.seed, "ra_ranking", src.name, q.qid)
        pos = [p for p, _ in src.positives(q)]
        if not pos:
            skipped += 1
            continue
        n_pos = rng.randint(1, min(len(pos), k - 1))
        pos = pos[:n_pos]
        negs = src.negatives(q, pos)[: k - n_pos]
        if len(pos) + len(negs) < k:
            skipped += 1
            continue
        shown = [(cut_passage(p, cfg.max_passage_words, q.answers), True) for p in pos]
        shown += [(cut_passage(p, cfg.max_passage_words), False) for p in negs]
        rng.shuffle(shown)
        ids = [i for i, (_, rel) in enumerate(shown, start=1) if rel]
        msgs = prompts.retrieval_augmented_ranking(q.text, [p for p, _ in shown], relevant_ids=ids)
        out.append(_ex(msgs, "ra_ranking", src.name, q.qid, q.answers, "ra"))
    return out, skipped


_PART_FNS = {"context_qa": part_context_qa, "ra_qa": part_ra_qa, "ranking": part_ranking,
             "ra_ranking": part_ra_ranking}


# --------------------------------------------------------------------------------------------------
# mixing
# --------------------------------------------------------------------------------------------------


def allocate(weights: list[float], size: int) -> list[int]:
    """Split ``size`` over ``weights`` (largest remainder; ties to the earlier entry)."""
    total = sum(weights)
    exact = [size * w / total for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: size - sum(counts)]:
        counts[i] += 1
    return counts


def _sample(examples: list[dict], n: int, rng: random.Random) -> list[dict]:
    if n <= len(examples):
        return rng.sample(examples, n)
    reps, rest = divmod(n, len(examples))
    return examples * reps + rng.sample(examples, rest)


def exclusion_set(files: list[str], data_root: Path | None) -> set[str]:
    banned: set[str] = set()
    for f in files:
        p = Path(os.path.expanduser(f))
        where = str(p) if (p.is_absolute() or p.exists() or data_root is None) else resolve(f, data_root)
        for q in S.load_questions(where):
            banned.add(normalize_question(q))
    return banned


def build_blend(recipe: dict | str | os.PathLike, out_dir: str | os.PathLike, data_root: str | os.PathLike | None = None,
                seed: int | None = None, exclude: list[str] | None = None) -> dict:
    """Build the blend described by ``recipe`` (a recipe dict or YAML path) into ``out_dir``.

    ``data_root``: folder the recipe's paths are relative to; ``seed`` overrides the recipe's;
    ``exclude``: more evaluation files (added to the recipe's ``exclude``). Returns the manifest.
    Nothing is written unless every part has examples.
    """
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    cfg = parse_blend(recipe)
    if seed is not None:
        cfg.seed = int(seed)
    root = Path(os.path.expanduser(str(data_root))) if data_root is not None else None
    if root is not None and not root.is_dir():
        raise RankragError(f"data root not found: {root}")
    cli_exclude = list(exclude or [])

    # exclusion sets: recipe entries relative to the data root, CLI entries as given (or under it)
    banned = exclusion_set(cfg.exclude, root) | exclusion_set(cli_exclude, root)

    needs: dict[str, set[str]] = {}
    for m in cfg.mix:
        needs.setdefault(m.source, set()).add(m.part)
    loaded: dict[str, _Source] = {}
    for name in track(list(needs), "Loading sources"):
        src = _Source(name, cfg.sources[name], cfg, root, needs[name])
        src.exclude(banned)
        loaded[name] = src

    parts: dict[str, list[dict]] = {}
    entries: list[dict[str, Any]] = []
    for m in cfg.mix:
        src = loaded[m.source]
        if m.part == "sft":
            exs, skipped = part_sft(src, cfg), 0
        else:
            if src.chat:
                raise RankragError(f"part {m.part!r} needs questions; source {m.source!r} is chat data")
            exs, skipped = _PART_FNS[m.part](src, cfg)
        if not exs:
            raise RankragError(f"part {m.part!r} from source {m.source!r} has no examples "
                               f"({skipped} questions skipped: no gold/answer passage or too few negatives)")
        parts.setdefault(m.part, []).extend(exs)
        entries.append({"part": m.part, "source": m.source, "weight": m.weight, "examples": exs,
                        "skipped": skipped})

    # blend sampling
    weights = [e["weight"] for e in entries]
    total_w = sum(weights)
    live = [i for i, w in enumerate(weights) if w > 0]
    if cfg.size is not None:
        size = cfg.size
    else:
        size = min(math.floor(len(entries[i]["examples"]) * total_w / weights[i] + 1e-9) for i in live)
    counts = allocate(weights, size)
    blend: list[dict] = []
    for e, n in zip(entries, counts):
        e["used"] = n
        if n:
            blend.extend(_sample(e["examples"], n, _rng(cfg.seed, "mix", e["part"], e["source"])))
    _rng(cfg.seed, "blend").shuffle(blend)

    manifest: dict[str, Any] = {
        "name": recipe.get("name"),
        "seed": cfg.seed,
        "data_root": str(data_root) if data_root is not None else None,
        "recipe": {"blend": dataclasses.asdict(cfg)},
        "exclude": {"files": list(cfg.exclude) + cli_exclude, "questions": len(banned),
                    "removed": sum(s.removed for s in loaded.values()),
                    "removed_by_source": {n: s.removed for n, s in loaded.items() if s.removed}},
        "parts": {},
        "blend": {"file": "blend.jsonl", "count": len(blend), "entries": []},
        "files": {},
    }
    for part in PARTS:
        if part not in parts:
            continue
        by_source: dict[str, int] = {}
        for ex in parts[part]:
            by_source[ex["source"]] = by_source.get(ex["source"], 0) + 1
        manifest["parts"][part] = {"file": f"{part}.jsonl", "count": len(parts[part]), "by_source": by_source}
    for e in entries:
        manifest["blend"]["entries"].append({
            "part": e["part"], "source": e["source"], "weight": e["weight"],
            "share": round(e["weight"] / total_w, 6), "available": len(e["examples"]), "used": e["used"],
            "repeated": e["used"] > len(e["examples"]), "skipped_questions": e["skipped"]})

    with atomic_dir(out_dir) as tmp:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a finished blend is an ordinary folder
        for part in PARTS:
            if part in parts:
                _write_lines(tmp / f"{part}.jsonl", parts[part])
        _write_lines(tmp / "blend.jsonl", blend)
        for f in sorted(p.name for p in tmp.iterdir()):
            manifest["files"][f] = sha256_file(tmp / f)
        write_json(tmp / "manifest.json", manifest)
    counts_txt = ", ".join(f"{p} {v['count']}" for p, v in manifest["parts"].items())
    log(f"blend: wrote {len(blend)} examples to {out_dir}/blend.jsonl (part files: {counts_txt})")
    return manifest


def check_blend(recipe: dict | str | os.PathLike, data_root: str | os.PathLike | None = None,
                rows: int = 20) -> dict:
    """The recipe check (``build-blend --check``): load the first ``rows`` usable records of every
    source the mix uses (hub sources streamed: no full download), build each of its parts from them,
    and report per source the records read, the examples each part gets from them, and every problem
    (a field a record lacks, a layout the loader cannot read, a part that gets nothing). Writes nothing.

    Returns ``{"rows", "sources": {name: {"path", "format", "records", "parts": {part: {"examples",
    "skipped"}}, "problems": [...]}}, "problems": [...]}``. A part that gets no example from so few
    rows is reported as a problem only when its loading failed; otherwise it is a ``warning`` (BM25
    negatives need a pool larger than a few records).
    """
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    cfg = parse_blend(recipe)
    root = Path(os.path.expanduser(str(data_root))) if data_root is not None else None
    if root is not None and not root.is_dir():
        raise RankragError(f"data root not found: {root}")
    needs: dict[str, list[str]] = {}
    for m in cfg.mix:
        needs.setdefault(m.source, []).append(m.part)
    report: dict[str, Any] = {"rows": rows, "sources": {}, "problems": [], "warnings": []}
    for name, parts in needs.items():
        spec = cfg.sources[name]
        spec = dataclasses.replace(spec, limit=min(spec.limit or rows, rows),
                                   corpus_limit=min(spec.corpus_limit or rows, rows))
        entry: dict[str, Any] = {"path": spec.path, "format": spec.format, "records": 0, "parts": {},
                                 "problems": [], "warnings": []}
        report["sources"][name] = entry
        try:
            src = _Source(name, spec, cfg, root, set(parts))
        except RankragError as e:
            entry["problems"].append(str(e))
            continue
        entry["format"] = src.fmt or ("chat" if src.chat else None)
        entry["records"] = len(src.chat) if src.chat else len(src.queries)
        for part in parts:
            try:
                if part == "sft":
                    exs, skipped = part_sft(src, cfg), 0
                elif src.chat:
                    raise RankragError(f"part {part!r} needs questions; source {name!r} is chat data")
                else:
                    exs, skipped = _PART_FNS[part](src, cfg)
            except RankragError as e:
                entry["problems"].append(f"part {part}: {e}")
                continue
            entry["parts"][part] = {"examples": len(exs), "skipped": skipped}
            if not exs:
                entry["warnings"].append(f"part {part}: no example from the first {entry['records']} records "
                                         f"({skipped} skipped: no gold/answer passage or too few negatives)")
    for name, entry in report["sources"].items():
        report["problems"] += [f"{name}: {p}" for p in entry["problems"]]
        report["warnings"] += [f"{name}: {w}" for w in entry["warnings"]]
    return report


def _write_lines(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(dumps(r) + "\n")
