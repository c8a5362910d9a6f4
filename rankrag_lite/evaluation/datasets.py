"""Evaluation sets: each question with its candidate passages and gold labels.

:func:`load_eval_set` reads the evaluation formats of ``../shared/data`` into an :class:`EvalSet`:
the ``evaluate`` formats of :data:`rankrag_lite.formats.registry.FORMATS` (``passages``, ``hotpotqa``,
``musique``: distractor sets without a first-stage order; ``trec-dl``: rank_llm JSON + graded qrels,
binary metrics count grade >= 2; ``beir`` and ``qa``: BM25 top-``depth`` over the corpus;
``candidates`` and ``ctxs``: the given order), each described in ``docs/formats.md`` (generated from
the registry).

Answer recall (a top-k passage contains an answer, DPR ``has_answer``) is computed wherever the
questions have answers; Recall@k against gold labels wherever gold labels exist.

The files are read by :mod:`rankrag_lite.formats` (QA and distractor sets through
:func:`rankrag_lite.data.sources.load_qa`, candidates / rank_llm / qrels by ``formats.trec``, BEIR
folders by ``formats.beir``), and ``auto`` is told by :func:`rankrag_lite.formats.sniff.sniff_eval`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rankrag_lite.answers import has_answer
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.registry import stage_format, stage_formats
from rankrag_lite.formats.sniff import sniff_eval as sniff_format

#: the names ``evaluate --format`` takes: the registry's ``evaluate`` formats (docs/formats.md)
EVAL_FORMATS = ("auto",) + stage_formats("evaluate")
_DISTRACTOR = ("passages", "hotpotqa", "musique")


@dataclass
class EvalItem:
    qid: str
    question: str
    answers: list[str]
    passages: list[dict]  # {pid, title, text, score?} in the given (first-stage) order
    qrels: dict[str, int] = field(default_factory=dict)  # pid -> grade (gold labels)


@dataclass
class EvalSet:
    name: str
    fmt: str
    items: list[EvalItem]
    has_order: bool  # the candidates come in a first-stage order (BM25 etc.)
    first_stage: str  # what that order is, in words
    graded: bool = False  # qrels carry grades (TREC DL): report nDCG@10
    rel_level: int = 1  # minimum grade that counts as relevant for Recall/MRR
    notes: list[str] = field(default_factory=list)

    @property
    def has_gold(self) -> bool:
        return any(any(g >= self.rel_level for g in it.qrels.values()) for it in self.items)

    @property
    def has_answers(self) -> bool:
        return any(it.answers for it in self.items)

    def answer_qrels(self) -> dict[str, dict[str, int]]:
        """pid -> 1 if the passage contains an answer (DPR has_answer), per question with answers."""
        return {it.qid: {p["pid"]: int(has_answer(it.answers, f"{p.get('title', '')} {p['text']}"))
                         for p in it.passages}
                for it in self.items if it.answers}

    def without_gold_candidates(self) -> list[str]:
        """Questions with gold labels but no gold passage among their candidates: no ranker can
        find one, so their Recall / MRR / nDCG are 0 whatever the ranking."""
        return [it.qid for it in self.items if it.qrels
                and not any(it.qrels.get(p["pid"], 0) >= self.rel_level for p in it.passages)]

    def gold_qrels(self) -> dict[str, dict[str, int]]:
        return {it.qid: dict(it.qrels) for it in self.items if it.qrels}


def _qa_items(source, fmt, limit) -> list:
    from rankrag_lite.data.sources import load_qa

    return load_qa(str(source), fmt=fmt, limit=limit)


def _from_qa_items(qa_items) -> list[EvalItem]:
    out = []
    for it in qa_items:
        pids = [p.pid or f"{it.qid}-{j}" for j, p in enumerate(it.passages)]
        if len(set(pids)) != len(pids):  # e.g. a title used twice: fall back to positions
            pids = [f"{it.qid}-{j}" for j in range(len(it.passages))]
        passages = [{"pid": pid, "title": p.title, "text": p.text} for pid, p in zip(pids, it.passages)]
        qrels = {pid: int(bool(p.is_gold)) for pid, p in zip(pids, it.passages) if p.is_gold is not None}
        out.append(EvalItem(qid=it.qid, question=it.question, answers=list(it.answers),
                            passages=passages, qrels=qrels))
    return out


def _existing_qrels(qrels: str) -> str:
    if not Path(qrels).exists():
        raise RankragError(f"qrels file not found: {qrels}")
    return qrels


def _check_unique_qids(items: list[EvalItem], where: str) -> None:
    from rankrag_lite.formats.fields import unique_ids

    for _ in unique_ids(items, where, key=lambda it: it.qid):
        pass


def _bm25_first_stage(qa: list[tuple[str, str, list[str]]], docs: list[dict], depth: int,
                      backend: str) -> list[EvalItem]:
    from rankrag_lite.retrieval import build_index

    index = build_index(docs, backend=backend)
    hits = index.search([q for _, q, _ in qa], k=depth)
    return [EvalItem(qid=qid, question=q, answers=ans,
                     passages=[{"pid": h.pid, "title": h.title, "text": h.text, "score": h.score} for h in hs])
            for (qid, q, ans), hs in zip(qa, hits)]


def load_eval_set(source: str | os.PathLike, fmt: str = "auto", *, qrels: str | None = None,
                  corpus: str | None = None, split: str = "test", depth: int = 100,
                  limit: int | None = None, backend: str = "bm25s") -> EvalSet:
    """Read an evaluation set (see the module docstring for the formats)."""
    fmt = stage_format("evaluate", fmt)  # any name of the format (rankllm: trec-dl)
    if fmt not in EVAL_FORMATS:
        raise RankragError(f"unknown evaluation format {fmt!r}; choose one of {list(EVAL_FORMATS)}")
    if limit is not None and limit < 1:
        raise RankragError(f"--limit must be at least 1, got {limit}")
    if depth < 1:
        raise RankragError(f"--depth must be at least 1, got {depth}")
    path = Path(source)
    if not path.exists():
        raise RankragError(f"evaluation data not found: {path}")
    if fmt == "auto":
        fmt = sniff_format(path)
        return _load(path, fmt, qrels, corpus, split, depth, limit, backend)
    try:
        return _load(path, fmt, qrels, corpus, split, depth, limit, backend)
    except RankragError as e:
        try:
            guess = sniff_format(path)
        except RankragError:
            raise e from None
        if guess != fmt and guess != "qa":
            raise RankragError(f"{e} (read as --format {fmt}; the file looks like --format {guess})") from None
        raise


def _load(path: Path, fmt: str, qrels, corpus, split, depth, limit, backend) -> EvalSet:
    from rankrag_lite.formats.candidates import iter_candidates
    from rankrag_lite.formats.trec import read_qrels

    name = path.name
    notes: list[str] = []

    if fmt in _DISTRACTOR:
        items = _from_qa_items(_qa_items(path, fmt, limit))
        es = EvalSet(name, fmt, items, has_order=False,
                     first_stage="none (a distractor set: the file order is arbitrary)")
    elif fmt == "ctxs":
        items = _from_qa_items(_qa_items(path, fmt, limit))
        es = EvalSet(name, fmt, items, has_order=True, first_stage="the retriever's order in the file")
    elif fmt == "trec-dl":
        qrels_path = Path(qrels) if qrels else path.parent / "qrels.txt"
        if not qrels_path.exists():
            raise RankragError(f"qrels file not found: {qrels_path}" if qrels else
                               f"TREC DL needs qrels: pass --qrels (looked for {qrels_path})")
        judged = read_qrels(qrels_path)
        items = []
        for rec in iter_candidates(path, "rankllm"):
            items.append(EvalItem(qid=rec["qid"], question=rec["question"], answers=[],
                                  passages=rec["passages"][:depth], qrels=judged.get(rec["qid"], {})))
            if limit is not None and len(items) >= limit:
                break
        given = max((len(it.passages) for it in items), default=0)
        es = EvalSet(name, fmt, items, has_order=True, first_stage=f"BM25 (the given top-{given} order)",
                     graded=True, rel_level=2)
        notes.append("TREC DL: nDCG@10 uses the graded judgements (0-3, linear gain as trec_eval); "
                     "Recall and MRR count grade >= 2 as relevant")
        missing = [it.qid for it in items if not it.qrels]
        if missing:
            notes.append(f"{len(missing)} queries have no judgements: {missing[:5]}")
    elif fmt == "candidates":
        judged = read_qrels(_existing_qrels(qrels)) if qrels else {}
        from rankrag_lite.formats.sniff import check_candidates_file

        check_candidates_file(path)
        items = []
        for rec in iter_candidates(path, "candidates"):
            q = dict(judged.get(rec["qid"], {}))
            if not q:
                q = {p["pid"]: int(bool(p["is_gold"])) for p in rec["passages"] if p.get("is_gold") is not None}
            from rankrag_lite.generation import gold_answers

            items.append(EvalItem(qid=rec["qid"], question=rec["question"], answers=gold_answers(rec),
                                  passages=[{k: p[k] for k in ("pid", "title", "text", "score") if k in p}
                                            for p in rec["passages"][:depth]], qrels=q))
            if limit is not None and len(items) >= limit:
                break
        es = EvalSet(name, fmt, items, has_order=True, first_stage="the given order in the file",
                     graded=bool(judged) and max((g for v in judged.values() for g in v.values()), default=1) > 1)
    elif fmt == "beir":
        from rankrag_lite.data.sources import load_corpus
        from rankrag_lite.formats import beir
        from rankrag_lite.formats.corpus import read_queries

        qpath = beir.queries_file(path, split)
        rpath = _existing_qrels(qrels) if qrels else beir.qrels_file(path, split)
        judged = read_qrels(rpath)
        all_queries = read_queries(qpath)
        qa = [(qid, q, []) for qid, q in all_queries if qid in judged]
        if not qa:
            raise RankragError(f"{rpath}: judges none of the {len(all_queries)} queries of {qpath}")
        if limit is not None:
            qa = qa[:limit]
        items = _bm25_first_stage(qa, load_corpus(str(path)), depth, backend)
        for it in items:
            it.qrels = judged.get(it.qid, {})
        es = EvalSet(name, fmt, items, has_order=True,
                     first_stage=f"BM25 ({backend}) top-{depth} over the corpus",
                     graded=max((g for v in judged.values() for g in v.values()), default=1) > 1)
    elif fmt == "qa":
        if corpus is None:
            raise RankragError("questions without passages need --corpus for the BM25 first stage")
        from rankrag_lite.data.sources import load_corpus

        qa_items = _qa_items(path, None, limit)
        missing = [it.qid for it in qa_items if not it.answers]
        if missing:
            raise RankragError(f"{path}: question {missing[0]} has no answers")
        items = _bm25_first_stage([(it.qid, it.question, list(it.answers)) for it in qa_items],
                                  load_corpus(str(corpus)), depth, backend)
        es = EvalSet(name, fmt, items, has_order=True,
                     first_stage=f"BM25 ({backend}) top-{depth} over {Path(corpus).name}")
        notes.append("no gold passages: Recall@k here is answer recall (a top-k passage contains an answer)")
    else:  # pragma: no cover
        raise RankragError(f"unknown evaluation format {fmt!r}")
    if es.fmt in ("beir", "qa"):
        empty = [it.qid for it in es.items if not it.passages]
        if empty:
            es.items = [it for it in es.items if it.passages]
            notes.append(f"{len(empty)} questions had no BM25 hit and are left out: {empty[:5]}")
    if not es.items:
        raise RankragError(f"{path}: no questions")
    if qrels is not None or fmt == "trec-dl":
        if not any(it.qrels for it in es.items):
            raise RankragError(f"{qrels or path.parent / 'qrels.txt'}: judges none of the {len(es.items)} "
                               f"questions of {path}; do the qrels belong to this set?")
    for it in es.items:
        if not it.passages:
            raise RankragError(f"{path}: question {it.qid} has an empty candidate list")
    _check_unique_qids(es.items, str(path))
    es.notes.extend(notes)
    return es
