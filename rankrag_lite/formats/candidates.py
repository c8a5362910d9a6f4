"""A ranking input in any of its formats, as normalised candidate records (:func:`iter_candidates`).

What ``rerank`` / ``answer`` / ``evaluate`` read: ``candidates`` JSONL, rank_llm JSON (``rankllm``) or a
TREC run with its corpus (a JSONL file or a BEIR folder) and queries (``trec``); ``auto`` is told by
:func:`rankrag_lite.formats.sniff.sniff_candidates`. Each record format is read in
:mod:`rankrag_lite.formats.trec` (records, runs) and :mod:`rankrag_lite.formats.corpus` (corpus and
queries files); this module only puts a run together with its texts and streams the result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import unique_ids
from rankrag_lite.formats import beir
from rankrag_lite.formats.corpus import iter_corpus_file, read_queries
from rankrag_lite.formats.fields import Records
from rankrag_lite.formats.sniff import sniff_candidates
from rankrag_lite.formats.trec import normalize_record, rankllm_records, read_trec_run
from rankrag_lite.io import iter_jsonl_lines


def _corpus_subset(corpus, needed: set[str]) -> dict[str, dict]:
    """The documents of ``corpus`` (a file, a BEIR folder, or a dict) whose ids are in ``needed``."""
    if isinstance(corpus, dict):
        return {k: v for k, v in corpus.items() if k in needed}
    path = Path(corpus)
    if path.is_dir():
        docs = beir.corpus(Records(str(path), "beir", None, folder=path))
        if not docs:
            raise RankragError(f"{path}: empty corpus")
        return {d["id"]: d for d in docs if d["id"] in needed}
    return {d["id"]: d for d in iter_corpus_file(path, wanted=needed)}


def _trec_records(run: Path, corpus, queries) -> Iterator[dict]:
    if corpus is None or queries is None:
        raise RankragError("a TREC run needs --corpus and --queries")
    qtext = queries if isinstance(queries, dict) else dict(read_queries(queries))
    needed: set[str] = set()
    for _, hits in read_trec_run(run):
        needed.update(pid for pid, _ in hits)
    docs = _corpus_subset(corpus, needed)
    missing = needed - docs.keys()
    if missing:
        some = ", ".join(sorted(missing)[:3])
        raise RankragError(f"{run}: {len(missing)} passage(s) of the run are not in the corpus (e.g. {some})")
    for qid, hits in read_trec_run(run):
        if qid not in qtext:
            raise RankragError(f"{run}: query {qid} is not in the queries file")
        yield {"qid": qid, "question": qtext[qid],
               "passages": [{"pid": pid, "title": docs[pid]["title"], "text": docs[pid]["text"], "score": s}
                            for pid, s in hits]}


def iter_candidates(path: str | os.PathLike, fmt: str = "auto", *, corpus=None, queries=None,
                    top_k: int | None = None) -> Iterator[dict]:
    """Normalised candidate records (see :func:`~rankrag_lite.formats.trec.normalize_record`) from any input format."""
    path = Path(path)
    if not path.exists():
        raise RankragError(f"input file not found: {path}")
    fmt = sniff_candidates(path, fmt, corpus)
    if top_k is not None and top_k < 1:
        raise RankragError(f"--top-k must be at least 1, got {top_k}")
    if fmt == "candidates":
        raw = iter_jsonl_lines(path)
    elif fmt == "rankllm":
        raw = ((None, r) for r in rankllm_records(path))
    else:
        raw = ((None, r) for r in _trec_records(path, corpus, queries))
    n = 0
    records = (normalize_record(rec, str(path), i, top_k, line=lineno) for i, (lineno, rec) in enumerate(raw))
    for rec in unique_ids(records, str(path)):  # a question id twice is refused where it is read
        yield rec
        n += 1
    if n == 0:
        raise RankragError(f"{path}: no records")
