"""Field readers every format family shares, and :class:`Records` (one source's raw records).

Error messages name the source and the record counted from 1 (``FILE: record N ...``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from rankrag_lite.data.schemas import Passage
from rankrag_lite.errors import RankragError


class Records:
    """Raw records of one source: its format, where it is (for messages) and what a reader needs.

    ``records`` is a list or a lazy iterable of dicts (hub rows may stream), the whole SQuAD JSON
    object for original SQuAD files, or ``None`` for a BEIR ``folder`` / hub BEIR dataset."""

    def __init__(self, where: str, fmt: str, records, folder: Path | None = None, split: str | None = None,
                 config: str | None = None, hub: bool = False):
        self.where, self.fmt, self.records, self.folder = where, fmt, records, folder
        self.split, self.config, self.hub = split, config, hub

    @property
    def name(self) -> str:
        """The short name items carry as their ``source``."""
        return Path(self.where).name


T = TypeVar("T")


def unique_ids(items: Iterable[T], where: str, key: Callable[[T], str] = lambda r: r["qid"],
               what: str = "question id") -> Iterator[T]:
    """``items`` as they come, each id once: a repeated one is an error naming it (every command reads
    questions through this rule: a repeated qid would repeat (qid, docid) lines in a TREC run, and
    per-question metrics would count it twice)."""
    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        qid = key(item)
        if qid in seen:
            raise RankragError(f"{where}: duplicate {what} {qid!r} (again in record {n}); each question "
                               "must appear once")
        seen.add(qid)
        yield item


def need(rec: dict, field: str, where: str, i: int):
    """``rec[field]``; a missing or null field is an error naming record ``i + 1``."""
    if not isinstance(rec, dict) or field not in rec or rec[field] is None:
        raise RankragError(f"{where}: record {i + 1} has no '{field}' field")
    return rec[field]


def need_object(rec, where: str, i: int) -> dict:
    if not isinstance(rec, dict):
        raise RankragError(f"{where}: record {i + 1} is not an object")
    return rec


def objects(recs):
    """``(i, record)`` for each record of ``recs`` (a :class:`Records`), each checked to be an object:
    the loop every reader starts with."""
    for i, rec in enumerate(recs.records):
        yield i, need_object(rec, recs.where, i)


def str_list(value) -> list[str]:
    """Answers of any layout as distinct non-empty strings: a string, a list (of strings, of
    ``{text}``, of lists), or SQuAD hub ``{"text": [...], "answer_start": [...]}``."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and "text" in value:
        return str_list(value["text"])
    out = []
    for v in value:
        if isinstance(v, dict):
            v = v.get("text")
        if isinstance(v, (list, tuple)):  # ChatQA narrativeqa: answers [["a1", "a2"]]
            out.extend(str_list(v))
        elif v is not None and str(v).strip():
            out.append(str(v))
    return list(dict.fromkeys(out))


def question(rec: dict, where: str, i: int) -> str:
    q = need(rec, "question", where, i)
    if not isinstance(q, str) or not q.strip():
        raise RankragError(f"{where}: record {i + 1} has an empty 'question'")
    return q.strip()


def record_id(rec: dict, i: int, keys: Iterable[str] = ("id", "_id", "qid")) -> str:
    """The first of ``keys`` the record has, else its position ``i`` (from 0)."""
    for k in keys:
        if k in rec:
            return str(rec[k])
    return str(i)


def passage(d: dict, where: str, i: int, gold=None, pid: str = "") -> Passage:
    """A passage object ``{title, text|paragraph_text|content, id|pid}`` of record ``i``."""
    text = d.get("text", d.get("paragraph_text", d.get("content"))) if isinstance(d, dict) else None
    if text is None:
        raise RankragError(f"{where}: record {i + 1} has a passage without 'text'")
    return Passage(text=str(text), title=str(d.get("title") or ""), pid=str(d.get("id", d.get("pid", pid)) or pid),
                   is_gold=gold)
