"""Passage collections and query lists: corpus files, queries files, TSV rows.

- corpus records ``{_id|id|docid, title, text|contents|content|paragraph_text}`` (BEIR / Pyserini /
  our own) -> ``{id, title, text}`` (:func:`corpus_doc`); a JSONL(.gz) corpus file streams through
  :func:`iter_corpus_file`; :func:`read_corpus` reads one whole for BM25 indexing (strict: ids, text,
  no duplicates); HotpotQA's ``{title: [sentences]}`` corpus JSON (:func:`title_sentences_docs`).
- queries ``qid<TAB>query`` (TREC topics) or JSONL ``{qid|id|_id|query_id, question|query|text}``
  -> ``(qid, question)`` pairs (:func:`read_queries`; which of the two: :func:`is_tsv`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import unique_ids
from rankrag_lite.io import iter_jsonl, iter_jsonl_lines, open_text

DOC_ID_KEYS = ("_id", "id", "docid")
DOC_TEXT_KEYS = ("text", "contents", "content", "paragraph_text")
QUERY_ID_KEYS = ("qid", "id", "_id", "query_id")
QUERY_TEXT_KEYS = ("question", "query", "text")


def _loc(where: str, i: int, line: int | None) -> str:
    return f"{where}:{line}: record" if line is not None else f"{where}: record {i + 1}"


def tsv_rows(path: str | os.PathLike, quoted: bool = False) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of the non-blank lines of a tab-separated file; ``quoted``: csv
    quoting as in DPR's own reader (TriviaQA has quoted lines)."""
    with open_text(path) as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row


def base_name(path: Path) -> str:
    """The lower-cased file name without a ``.gz`` suffix (what the format is told by)."""
    return path.name.lower().removesuffix(".gz")


def first_line(path: Path) -> str:
    """The first non-blank line of a text file, stripped (``""``: none)."""
    with open_text(path) as f:
        for line in f:
            if line.strip():
                return line.strip()
    return ""


def is_tsv(path: str | os.PathLike) -> bool:
    """A queries file is ``qid<TAB>query`` by name (``.tsv``/``.txt``), JSON by name (``.jsonl``/``.json``),
    else by its first non-blank line (not ``{``: TSV)."""
    path = Path(path)
    base = base_name(path)
    if base.endswith((".tsv", ".txt")):
        return True
    if base.endswith((".jsonl", ".json")):
        return False
    first = first_line(path)
    return bool(first) and not first.startswith("{")


# --- corpus ---------------------------------------------------------------------------------------


def corpus_doc(rec, where: str, i: int, *, line: int | None = None, need_id: bool = False) -> dict:
    """One corpus record as ``{id, title, text}``; without an id it gets its position ``i``
    (``need_id``: an error instead)."""
    if not isinstance(rec, dict):
        raise RankragError(f"{_loc(where, i, line)} is not an object")
    text = next((rec[k] for k in DOC_TEXT_KEYS if rec.get(k) is not None), None)
    if text is None:
        raise RankragError(f"{_loc(where, i, line)} has no 'text' field")
    did = next((rec[k] for k in DOC_ID_KEYS if rec.get(k) is not None), None)
    if did is None and need_id:
        raise RankragError(f"{_loc(where, i, line)} has no 'id'")
    return {"id": str(did if did is not None else i), "title": str(rec.get("title") or ""), "text": str(text)}


def corpus_docs(records: Iterable, where: str) -> Iterator[dict]:
    """:func:`corpus_doc` over records (hub rows, a list from a JSON file)."""
    for i, rec in enumerate(records):
        yield corpus_doc(rec, where, i)


def iter_corpus_file(path: str | os.PathLike, wanted: set[str] | None = None) -> Iterator[dict]:
    """The documents of a JSONL(.gz) corpus file, streaming; ``wanted``: only those ids (a record
    needs an id then)."""
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"corpus file not found: {path}")
    for i, (lineno, rec) in enumerate(iter_jsonl_lines(path)):
        doc = corpus_doc(rec, str(path), i, line=lineno, need_id=wanted is not None)
        if wanted is None or doc["id"] in wanted:
            yield doc


def title_sentences_docs(data: dict) -> list[dict]:
    """HotpotQA's corpus JSON ``{title: [sentences]}``: one document per title (id = title)."""
    return [{"id": k, "title": k, "text": "".join(v)} for k, v in data.items()]


def normalize_docs(docs: Iterable[dict]) -> list[dict]:
    """Validate documents into ``{id, title, text}`` (string) dicts; ``_id`` is accepted for ``id``.

    A document without an id or without text, a duplicate id, or an empty corpus is a
    :class:`RankragError`.
    """
    out: list[dict] = []
    seen: set[str] = set()
    for i, d in enumerate(docs):
        if not isinstance(d, dict):
            raise RankragError(f"document {i + 1}: expected an object with id, title, text")
        pid = d.get("id", d.get("_id"))
        if pid is None or str(pid).strip() == "":
            raise RankragError(f"document {i + 1}: no id")
        pid = str(pid)
        text = d.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RankragError(f"document {pid!r}: no text")
        title = d.get("title") or ""
        if not isinstance(title, str):
            raise RankragError(f"document {pid!r}: title is not a string")
        if pid in seen:
            raise RankragError(f"duplicate document id {pid!r}")
        seen.add(pid)
        out.append({"id": pid, "title": title, "text": text})
    if not out:
        raise RankragError("empty corpus: no documents to index")
    return out


def read_corpus(path: str | os.PathLike, progress: bool = False) -> list[dict]:
    """Documents of a JSONL corpus as ``{id, title, text}`` for indexing; an empty or malformed
    corpus (no id, no text, a duplicate id) is an error."""
    from rankrag_lite.progress import maybe_track

    path = Path(path)
    if not path.is_file():
        raise RankragError(f"corpus file not found: {path}")
    try:
        return normalize_docs(maybe_track(iter_jsonl(path), "Reading corpus", progress))
    except RankragError as e:
        if str(e).startswith(str(path)):  # already names the file (and line)
            raise
        raise RankragError(f"{path}: {e}") from None


# --- queries --------------------------------------------------------------------------------------


def query_pair(rec, where: str, i: int, *, line: int | None = None) -> tuple[str, str]:
    """``(qid, question)`` of one JSON query record."""
    loc = f"{where}:{line}: record" if line is not None else f"{where}: record {i + 1}"
    if not isinstance(rec, dict):
        raise RankragError(f"{loc} is not an object")
    qid = next((rec[k] for k in QUERY_ID_KEYS if rec.get(k) is not None), None)
    text = next((rec[k] for k in QUERY_TEXT_KEYS if isinstance(rec.get(k), str)), None)
    if qid is None or str(qid).strip() == "":
        raise RankragError(f"{loc} has no qid (one of {list(QUERY_ID_KEYS)})")
    if text is None:
        raise RankragError(f"{loc} has no question (one of {list(QUERY_TEXT_KEYS)})")
    return str(qid), text


def _tsv_queries(path: Path) -> Iterator[tuple[str, str]]:
    for lineno, row in tsv_rows(path):
        if len(row) < 2:
            raise RankragError(f"{path}:{lineno}: expected qid<TAB>query")
        yield row[0].strip(), row[1]


def _jsonl_queries(path: Path) -> Iterator[tuple[str, str]]:
    for i, (lineno, rec) in enumerate(iter_jsonl_lines(path)):
        yield query_pair(rec, str(path), i, line=lineno)


def read_queries(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(qid, question)`` pairs from a JSONL or TSV file, in file order; no queries, a duplicate id
    or an empty question is an error."""
    path = Path(path)
    if not path.is_file():
        raise RankragError(f"queries file not found: {path}")
    pairs = list(_tsv_queries(path) if is_tsv(path) else _jsonl_queries(path))
    if not pairs:
        raise RankragError(f"{path}: no queries")
    for qid, question in unique_ids(pairs, str(path), key=lambda pair: pair[0], what="query id"):
        if not question.strip():
            raise RankragError(f"{path}: query {qid!r} has no text")
    return pairs
