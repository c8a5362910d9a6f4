"""One source of the blend, loaded: its questions (or queries, or chat items), the evaluation
questions removed from it, its BM25 pool and, per question, its positives and hard negatives."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rankrag_lite.answers import has_answer, normalize_question
from rankrag_lite.data import sources as S
from rankrag_lite.data.blend.config import BlendConfig, SourceSpec
from rankrag_lite.data.hard_negatives import bm25_hits, passage_key, select_negatives
from rankrag_lite.data.schemas import Passage
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.hub import is_local
from rankrag_lite.progress import log

#: formats whose records are queries with positive / negative passages (not questions with answers)
RANKING_SOURCE_FORMATS = ("qpn", "beir", "msmarco", "climate-fever", "rankllm")


@dataclass
class Query:
    qid: str
    text: str
    answers: list[str]
    golds: list[Passage]
    negs: list[Passage]  # the source's own negatives
    history: list[dict]
    others: list[Passage] = field(default_factory=list)  # passages of the record that are not gold


def resolve(path: str, data_root: Path | None) -> str:
    """A recipe path: relative to the data root if it exists there; a hub name otherwise."""
    p = Path(os.path.expanduser(path))
    if p.is_absolute():
        return str(p)
    if data_root is not None:
        cand = data_root / p
        if cand.exists() or is_local(path):
            return str(cand)
    return path


def exclusion_set(files: list[str], data_root: Path | None) -> set[str]:
    """The normalised questions of evaluation files (paths as given, else under the data root)."""
    banned: set[str] = set()
    for f in files:
        p = Path(os.path.expanduser(f))
        where = str(p) if (p.is_absolute() or p.exists() or data_root is None) else resolve(f, data_root)
        for q in S.load_questions(where):
            banned.add(normalize_question(q))
    return banned


def _source_format(spec: SourceSpec, where: str) -> str:
    if spec.format:
        return spec.format
    raw = S._open(where, None, spec.split, spec.config, spec.data_files, stream=True)  # the first row tells
    return raw.fmt


class LoadedSource:
    """A loaded source: queries (QA or ranking) or chat items, its BM25 pool and hits."""

    def __init__(self, name: str, spec: SourceSpec, cfg: BlendConfig, data_root: Path | None,
                 needs: set[str]):
        self.name, self.spec, self.cfg = name, spec, cfg
        self.where = resolve(spec.path, data_root)
        self.data_root = data_root
        self.chat: list[dict] = []
        self.queries: list[Query] = []
        self.removed = 0
        self._hits: dict[str, list] | None = None
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
                self.queries.append(Query(it.qid, it.query, [], list(it.positives), list(it.negatives), []))
        else:
            for it in S.load_qa(self.where, self.fmt, spec.split, spec.limit, config=spec.config,
                                data_files=spec.data_files):
                golds = [p for p in it.passages if p.is_gold]
                others = [p for p in it.passages if not p.is_gold]
                self.queries.append(Query(it.qid, it.question, list(it.answers), golds, [], list(it.history),
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
        """The passages BM25 searches (``{id, title, text}``, each passage once): the source's own
        passages (gold, given negatives, distractors), then its corpora."""
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

    def hits(self) -> dict[str, list]:
        """BM25 top hits per query id (computed once): ``retrieval_depth`` + the most gold passages
        of any question."""
        if self._hits is None:
            docs = self.pool()
            log(f"blend: {self.name}: BM25 ({self.cfg.bm25_backend}) over {len(docs)} passages, "
                f"{len(self.queries)} queries")
            k = self.cfg.retrieval_depth + max((len(q.golds) for q in self.queries), default=0)
            results = bm25_hits([q.text for q in self.queries], docs, k=k, backend=self.cfg.bm25_backend)
            self._hits = {q.qid: hs for q, hs in zip(self.queries, results)}
        return self._hits

    def negatives(self, q: Query, positives: list[Passage]) -> list[Passage]:
        """The source's own negatives, then BM25 hard negatives: not a positive, not gold, no answer in
        their title or text (checked on the whole passage, before any cut)."""
        candidates = list(q.negs) + self.hits()[q.qid]
        keep = select_negatives(candidates, positives=list(positives) + q.golds, answers=q.answers)
        return [Passage(text=candidates[i].text, title=candidates[i].title,
                        pid="given" if i < len(q.negs) else "bm25", is_gold=False) for i in keep]

    def answer_passages(self, q: Query) -> list[Passage]:
        """BM25 hits that contain an answer (positives for a question without gold passages)."""
        if not q.answers:
            return []
        gold_keys = {passage_key(p) for p in q.golds}
        return [Passage(text=h.text, title=h.title, pid="answer", is_gold=False)
                for h in self.hits()[q.qid] if passage_key(h) not in gold_keys and has_answer(q.answers, h.text)]

    def positives(self, q: Query) -> list[tuple[Passage, str]]:
        """(passage, kind) positives: gold (kind 'gold') or, without gold, answer-containing BM25 hits."""
        if q.golds:
            return [(p, "gold") for p in q.golds]
        return [(p, "answer") for p in self.answer_passages(q)]
