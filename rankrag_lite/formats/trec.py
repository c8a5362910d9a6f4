"""Ranking I/O in one place: TREC qrels, TREC runs, candidate lists (JSONL and rank_llm JSON).

- qrels: TREC ``qid 0 pid grade`` or BEIR ``query-id<TAB>corpus-id<TAB>score`` (header line allowed)
  -> ``{qid: {pid: grade}}`` (:func:`read_qrels`).
- TREC run ``qid Q0 pid rank score tag``: :func:`read_trec_run` streams ``(qid, [(pid, score)])`` per
  query (the run must be grouped by query); :func:`trec_line` writes one line.
- candidates JSONL ``{qid, question, passages: [{pid, title, text, ...}]}`` best first (what
  ``rankrag-lite retrieve`` writes and ``rerank`` / ``answer`` / ``evaluate`` read): :func:`normalize_record`
  checks one record, :func:`candidates_record` builds one from search hits.
- rank_llm retrieve results ``[{query, hits: [{content, qid, docid, rank, score}]}]`` (the DL19
  ``bm25_top100.json``): :func:`rankllm_query` reads one record (also the ``rankllm`` source format).

Reading a ranking input in any of its formats (``candidates``, ``rankllm``, a ``trec`` run + corpus +
queries) is :func:`rankrag_lite.formats.candidates.iter_candidates`, above this module (it needs the
corpus and BEIR readers, which read qrels here).

A passage without a ``pid`` gets ``{qid}-{position}`` (the id the QA loaders give such passages).
Bad input is a one-line :class:`~rankrag_lite.errors.RankragError` naming the file (and line).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.io import iter_jsonl_lines, open_text, read_json

TEXT_KEYS = ("text", "content", "contents")
PID_KEYS = ("pid", "id", "docid", "_id")
_QRELS_HEADER = ("query-id", "query_id", "qid")


# --- qrels ----------------------------------------------------------------------------------------


def read_qrels(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """TREC qrels ``qid 0 pid grade`` or BEIR ``query-id<TAB>corpus-id<TAB>score`` (with header);
    a two-column line ``qid pid`` judges the passage 1."""
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"qrels file not found: {path}")
    qrels: dict[str, dict[str, int]] = {}
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if lineno == 1 and parts[0].lower() in _QRELS_HEADER:
                continue
            if len(parts) == 4:
                qid, _, pid, grade = parts
            elif len(parts) in (2, 3):
                qid, pid, grade = parts[0], parts[1], parts[2] if len(parts) == 3 else "1"
            else:
                raise RankragError(f"{path}:{lineno}: expected 'qid 0 pid grade' or 'qid<TAB>pid<TAB>grade'")
            try:
                qrels.setdefault(qid, {})[pid] = int(float(grade))
            except ValueError:
                raise RankragError(f"{path}:{lineno}: the grade must be a number") from None
    if not qrels:
        raise RankragError(f"{path}: no judgements")
    return qrels


# --- TREC runs ------------------------------------------------------------------------------------


def read_trec_run(path: str | os.PathLike) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """``(qid, [(pid, score), ...])`` per query, best first (sorted by rank), streaming.

    The run must list each query's lines together (TREC runs do); a malformed line is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"run file not found: {path}")
    seen: set[str] = set()
    cur: str | None = None
    rows: list[tuple[int, float, str]] = []

    def flush():
        rows.sort(key=lambda r: (r[0], -r[1]))
        return cur, [(pid, score) for _, score, pid in rows]

    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise RankragError(f"{path}:{lineno}: expected 'qid Q0 pid rank score tag'")
            qid, _, pid, rank, score, _tag = parts
            try:
                rank_i, score_f = int(rank), float(score)
            except ValueError:
                raise RankragError(f"{path}:{lineno}: rank and score must be numbers") from None
            if qid != cur:
                if cur is not None:
                    yield flush()
                if qid in seen:
                    raise RankragError(f"{path}:{lineno}: query {qid} appears in two separate blocks; "
                                       "sort the run by query")
                seen.add(qid)
                cur, rows = qid, []
            rows.append((rank_i, score_f, pid))
    if cur is not None:
        yield flush()


def trec_line(qid: str, pid: str, rank: int, score: float, tag: str, decimals: int = 8) -> str:
    """One run line ``qid Q0 pid rank score tag`` (``rerank`` writes P(True) with 8 decimals,
    ``retrieve`` BM25 scores with 6)."""
    return f"{qid} Q0 {pid} {rank} {score:.{decimals}f} {tag}\n"


def trec_lines(qid: str, hits: Sequence, tag: str, decimals: int = 6) -> Iterator[str]:
    """The run lines of one query's search hits (objects with ``pid`` and ``score``), ranked 1, 2, ..."""
    for rank, h in enumerate(hits, start=1):
        yield trec_line(qid, h.pid, rank, h.score, tag, decimals)


# --- candidate lists ------------------------------------------------------------------------------


def candidates_record(qid: str, question: str, hits: Sequence) -> dict:
    """A candidates record from search hits (objects with ``pid``, ``title``, ``text``, ``score``)."""
    return {
        "qid": qid,
        "question": question,
        "passages": [{"pid": h.pid, "title": h.title, "text": h.text, "score": h.score} for h in hits],
    }


def normalize_record(rec, where: str, i: int, top_k: int | None = None, *, line: int | None = None) -> dict:
    """Check one candidates record and return it with ``qid``, ``question`` and clean passages.

    ``id``/``_id`` and ``query`` are accepted for ``qid``/``question``, ``ctxs`` for ``passages``,
    ``content``/``contents`` for ``text``. ``i`` is the record's position from 0 (the made-up qid of a
    record without one); messages name ``where:LINE`` (``line``: its line in a JSONL file) or
    ``where: record N`` counted from 1."""
    loc = f"{where}:{line}: record" if line is not None else f"{where}: record {i + 1}"
    if not isinstance(rec, dict):
        raise RankragError(f"{loc} is not an object")
    qid = next((rec[k] for k in ("qid", "id", "_id") if rec.get(k) is not None), None)
    qid = str(qid) if qid is not None and str(qid).strip() else str(i)
    question = rec.get("question", rec.get("query"))
    if not isinstance(question, str) or not question.strip():
        raise RankragError(f"{loc} (qid {qid}) has no 'question'")
    passages = rec.get("passages", rec.get("ctxs"))
    if passages is None:
        raise RankragError(f"{loc} (qid {qid}) has no 'passages'")
    if not isinstance(passages, list) or not passages:
        raise RankragError(f"{loc} (qid {qid}) has an empty candidate list")
    clean = []
    for j, p in enumerate(passages):
        if not isinstance(p, dict):
            raise RankragError(f"{loc} (qid {qid}): passage {j + 1} is not an object")
        text = next((p[k] for k in TEXT_KEYS if isinstance(p.get(k), str)), None)
        if text is None:
            raise RankragError(f"{loc} (qid {qid}): passage {j + 1} has no 'text'")
        pid = next((p[k] for k in PID_KEYS if p.get(k) is not None), None)
        q = dict(p)
        for k in TEXT_KEYS:
            q.pop(k, None)
        q["pid"] = str(pid) if pid is not None and str(pid) != "" else f"{qid}-{j}"
        q["title"] = str(p.get("title") or "")
        q["text"] = text
        clean.append(q)
    if top_k is not None and len(passages) < top_k:
        raise RankragError(
            f"{loc} (qid {qid}) has {len(passages)} candidates, fewer than --top-k {top_k}"
        )
    out = {k: v for k, v in rec.items() if k not in ("passages", "ctxs", "id", "_id", "query")}
    out["qid"] = qid
    out["question"] = question
    out["passages"] = clean if top_k is None else clean[:top_k]
    return out


def rankllm_query(rec, where: str, i: int) -> dict:
    """One rank_llm record ``{query, hits[{content, qid, docid, score}]}`` as a candidates record
    ``{qid, question, passages[{pid, title, text, score}]}``: the qid is the record's, else its first
    hit's, else its position ``i`` (from 0). A hit's text may be missing (``None``): the caller decides."""
    if not isinstance(rec, dict) or "hits" not in rec:
        raise RankragError(f"{where}: record {i + 1} has no 'hits'")
    hits = rec["hits"] or []
    qid = rec.get("qid", hits[0].get("qid") if hits and isinstance(hits[0], dict) else None)
    return {
        "qid": str(qid) if qid is not None else str(i),
        "question": rec.get("query"),
        "passages": [
            {"pid": str(h.get("docid", "")) if isinstance(h, dict) else "",
             "title": (h.get("title") or "") if isinstance(h, dict) else "",
             "text": h.get("content", h.get("text")) if isinstance(h, dict) else None,
             "score": h.get("score") if isinstance(h, dict) else None}
            for h in hits
        ],
    }


def rankllm_records(path: Path) -> Iterator[dict]:
    """The records of a rank_llm JSON file (a list) as candidates records (:func:`rankllm_query`)."""
    data = read_json(path)
    if not isinstance(data, list):
        raise RankragError(f"{path}: expected a list of {{query, hits}} records (rank_llm format)")
    for i, rec in enumerate(data):
        yield rankllm_query(rec, str(path), i)
