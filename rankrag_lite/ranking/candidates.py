"""Reading what ``rankrag-lite rerank`` takes and writing what it gives.

Inputs (``fmt``; ``auto`` tells them apart by extension and by ``corpus``):

- ``candidates``: JSONL ``{qid, question, passages: [{pid, title, text, ...}]}``, best first (what
  ``rankrag-lite retrieve`` writes; ``id``/``_id`` and ``query`` are accepted for ``qid``/``question``,
  ``content``/``contents`` for ``text``). Streams record by record.
- ``rankllm``: rank_llm retrieve results ``[{query, hits: [{content, qid, docid, rank, score}]}]``
  (the DL19 ``bm25_top100.json``).
- ``trec``: a TREC run ``qid Q0 pid rank score tag`` + ``corpus`` (JSONL ``{id|_id, title, text}`` or a
  BEIR folder) + ``queries`` (TSV ``qid<TAB>query`` or JSONL). The run is read one query at a time
  (it must be grouped by query, as TREC runs are); only the passages it names are kept from the corpus.

A passage without a ``pid`` gets ``{qid}-{position}`` (the id the QA loaders give such passages).
Bad input (a missing field, an empty candidate list, fewer candidates than ``top_k``, a run naming a
passage missing from the corpus) is a one-line :class:`RankragError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.io import iter_jsonl_lines, open_text, read_json

INPUT_FORMATS = ("auto", "candidates", "rankllm", "trec")
_TEXT_KEYS = ("text", "content", "contents")


def detect_format(path: str | os.PathLike, fmt: str = "auto", corpus=None) -> str:
    if fmt not in INPUT_FORMATS:
        raise RankragError(f"unknown input format {fmt!r}; choose one of {list(INPUT_FORMATS)}")
    if fmt != "auto":
        return fmt
    if corpus is not None:
        return "trec"
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".json"):
        return "rankllm"
    if name.endswith((".trec", ".run", ".txt", ".tsv")):
        raise RankragError(f"{path} looks like a TREC run: pass --corpus and --queries with it")
    return "candidates"


def normalize_record(rec, where: str, i: int, top_k: int | None = None, *, line: int | None = None) -> dict:
    """Check one candidates record and return it with ``qid``, ``question`` and clean passages.

    ``i`` is the record's position from 0 (the made-up qid of a record without one); messages name
    ``where:LINE`` (``line``: its line in a JSONL file) or ``where: record N`` counted from 1."""
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
        text = next((p[k] for k in _TEXT_KEYS if isinstance(p.get(k), str)), None)
        if text is None:
            raise RankragError(f"{loc} (qid {qid}): passage {j + 1} has no 'text'")
        pid = next((p[k] for k in ("pid", "id", "docid", "_id") if p.get(k) is not None), None)
        q = dict(p)
        for k in _TEXT_KEYS:
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


def _rankllm_records(path: Path) -> Iterator[dict]:
    data = read_json(path)
    if not isinstance(data, list):
        raise RankragError(f"{path}: expected a list of {{query, hits}} records (rank_llm format)")
    for i, rec in enumerate(data):
        if not isinstance(rec, dict) or "hits" not in rec:
            raise RankragError(f"{path}: record {i + 1} has no 'hits'")
        hits = rec["hits"] or []
        qid = rec.get("qid", hits[0].get("qid") if hits and isinstance(hits[0], dict) else None)
        yield {
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


def read_qrels(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """TREC qrels ``qid 0 pid grade`` or BEIR ``query-id<TAB>corpus-id<TAB>score`` (with header)."""
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"qrels file not found: {path}")
    qrels: dict[str, dict[str, int]] = {}
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if lineno == 1 and parts[0].lower() in ("query-id", "query_id", "qid"):
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


def _load_queries(queries) -> dict[str, str]:
    if isinstance(queries, dict):
        return queries
    from rankrag_lite.retrieval.files import read_queries

    return dict(read_queries(queries))


def _corpus_subset(corpus, needed: set[str]) -> dict[str, dict]:
    """The documents of ``corpus`` (a file, a BEIR folder, or a dict) whose ids are in ``needed``."""
    if isinstance(corpus, dict):
        return {k: v for k, v in corpus.items() if k in needed}
    path = Path(corpus)
    if path.is_dir():
        from rankrag_lite.data.sources import load_corpus

        return {d["id"]: d for d in load_corpus(str(path)) if d["id"] in needed}
    if not path.is_file():
        raise RankragError(f"corpus file not found: {path}")
    out: dict[str, dict] = {}
    for lineno, rec in iter_jsonl_lines(path):
        if not isinstance(rec, dict):
            raise RankragError(f"{path}:{lineno}: not an object")
        did = rec.get("id", rec.get("_id", rec.get("docid")))
        if did is None:
            raise RankragError(f"{path}:{lineno}: no 'id'")
        did = str(did)
        if did in needed:
            text = next((rec[k] for k in _TEXT_KEYS if isinstance(rec.get(k), str)), None)
            if text is None:
                raise RankragError(f"{path}: document {did!r} has no 'text'")
            out[did] = {"id": did, "title": str(rec.get("title") or ""), "text": text}
    return out


def _trec_records(run: Path, corpus, queries) -> Iterator[dict]:
    if corpus is None or queries is None:
        raise RankragError("a TREC run needs --corpus and --queries")
    qtext = _load_queries(queries)
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
    """Normalised candidate records (see :func:`normalize_record`) from any input format."""
    path = Path(path)
    if not path.exists():
        raise RankragError(f"input file not found: {path}")
    fmt = detect_format(path, fmt, corpus)
    if top_k is not None and top_k < 1:
        raise RankragError(f"--top-k must be at least 1, got {top_k}")
    if fmt == "candidates":
        raw = iter_jsonl_lines(path)
    elif fmt == "rankllm":
        raw = ((None, r) for r in _rankllm_records(path))
    else:
        raw = ((None, r) for r in _trec_records(path, corpus, queries))
    n = 0
    for i, (lineno, rec) in enumerate(raw):
        yield normalize_record(rec, str(path), i, top_k, line=lineno)
        n += 1
    if n == 0:
        raise RankragError(f"{path}: no records")


def trec_line(qid: str, pid: str, rank: int, score: float, tag: str) -> str:
    return f"{qid} Q0 {pid} {rank} {score:.8f} {tag}\n"
