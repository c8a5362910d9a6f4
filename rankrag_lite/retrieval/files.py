"""Corpus and query files in, candidate files out (what ``rankrag-lite index`` / ``retrieve`` use).

- Corpus: JSONL or JSONL.gz of ``{id, title, text}`` (``_id`` accepted, as in BEIR).
- Queries: JSONL with ``{qid|id|_id, question|query|text}``, or TSV ``qid<TAB>query``.
- Candidates: JSONL ``{qid, question, passages: [{pid, title, text, score}]}`` best first (the
  input of ``rankrag-lite rerank``), plus an optional TREC run (``qid Q0 pid rank score tag``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_write, dumps, iter_jsonl, open_text
from rankrag_lite.retrieval.base import BM25Index, Hit, check_k, maybe_track, normalize_docs

_QID_KEYS = ("qid", "id", "_id", "query_id")
_TEXT_KEYS = ("question", "query", "text")


def read_corpus(path: str | os.PathLike, progress: bool = False) -> list[dict]:
    """Documents of a JSONL corpus as ``{id, title, text}``; an empty or malformed corpus is an error."""
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"corpus file not found: {path}")
    try:
        return normalize_docs(maybe_track(iter_jsonl(path), "Reading corpus", progress))
    except RankragError as e:
        if str(e).startswith(str(path)):  # already names the file (and line)
            raise
        raise RankragError(f"{path}: {e}") from None


def read_queries(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(qid, question)`` pairs from a JSONL or TSV file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"queries file not found: {path}")
    pairs = list(_iter_tsv(path) if _is_tsv(path) else _iter_jsonl_queries(path))
    if not pairs:
        raise RankragError(f"{path}: no queries")
    seen: set[str] = set()
    for qid, question in pairs:
        if qid in seen:
            raise RankragError(f"{path}: duplicate query id {qid!r}")
        seen.add(qid)
        if not question.strip():
            raise RankragError(f"{path}: query {qid!r} has no text")
    return pairs


def _is_tsv(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".tsv", ".txt")):
        return True
    if name.endswith((".jsonl", ".json")):
        return False
    with open_text(path) as f:
        for line in f:
            if line.strip():
                return not line.lstrip().startswith("{")
    return False


def _iter_tsv(path: Path) -> Iterator[tuple[str, str]]:
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise RankragError(f"{path}:{lineno}: expected qid<TAB>query")
            yield parts[0].strip(), parts[1]


def _iter_jsonl_queries(path: Path) -> Iterator[tuple[str, str]]:
    for i, rec in enumerate(iter_jsonl(path), start=1):
        if not isinstance(rec, dict):
            raise RankragError(f"{path}: record {i} is not an object")
        qid = next((rec[k] for k in _QID_KEYS if rec.get(k) is not None), None)
        text = next((rec[k] for k in _TEXT_KEYS if isinstance(rec.get(k), str)), None)
        if qid is None or str(qid).strip() == "":
            raise RankragError(f"{path}: record {i} has no qid (one of {list(_QID_KEYS)})")
        if text is None:
            raise RankragError(f"{path}: record {i} has no question (one of {list(_TEXT_KEYS)})")
        yield str(qid), text


def candidates_record(qid: str, question: str, hits: Sequence[Hit]) -> dict:
    return {
        "qid": qid,
        "question": question,
        "passages": [{"pid": h.pid, "title": h.title, "text": h.text, "score": h.score} for h in hits],
    }


def trec_lines(qid: str, hits: Sequence[Hit], tag: str) -> Iterator[str]:
    for rank, h in enumerate(hits, start=1):
        yield f"{qid} Q0 {h.pid} {rank} {h.score:.6f} {tag}\n"


class Retrieved(NamedTuple):
    queries: int  # queries searched (= records written)
    no_hits: list[str]  # ids of the queries that found no passage (written with ``passages: []``)

    def __int__(self) -> int:
        return self.queries


def retrieve_to_files(
    index: BM25Index,
    queries: Sequence[tuple[str, str]],
    out: str | os.PathLike,
    k: int = 100,
    run: str | os.PathLike | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> Retrieved:
    """Search every query and write candidates JSONL (and a TREC run) atomically; returns the count
    of queries and the ids of those that found nothing.

    Results are streamed into temporary files that are renamed into place only when all queries
    are done, so an interrupted run leaves no output that looks complete.
    """
    check_k(k)
    tag = f"bm25-{index.backend}"
    batches = [queries[i : i + batch_size] for i in range(0, len(queries), batch_size)]
    if progress:
        from rankrag_lite.progress import track

        batches = track(batches, "Retrieving", total=len(batches))
    no_hits: list[str] = []
    with atomic_write(out) as f_out, (atomic_write(run) if run else _null()) as f_run:
        for batch in batches:
            results = index.search([q for _, q in batch], k=k)
            for (qid, question), hits in zip(batch, results):
                if not hits:
                    no_hits.append(qid)
                f_out.write(dumps(candidates_record(qid, question, hits)) + "\n")
                if f_run is not None:
                    f_run.writelines(trec_lines(qid, hits, tag))
    return Retrieved(len(queries), no_hits)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
