"""The retrieval interface every BM25 backend implements (backends live in sibling modules).

An index is a folder holding ``meta.json`` (format, backend, params, document count) plus the
backend's own files; :func:`load_index` reads ``meta.json`` to pick the backend.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankrag_lite.errors import RankragError

BACKENDS = ("bm25s", "pyserini")
META_FILE = "meta.json"
INDEX_FORMAT = "rankrag-lite-bm25"
INDEX_VERSION = 1


@dataclass
class Hit:
    pid: str
    score: float
    title: str
    text: str

    def to_dict(self) -> dict:
        return {"pid": self.pid, "score": self.score, "title": self.title, "text": self.text}


class BM25Index(ABC):
    """A BM25 index over ``{id, title, text}`` documents (title and text are both indexed)."""

    backend: str

    @abstractmethod
    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Top-``k`` hits per query, best first, with passage text."""

    @abstractmethod
    def save(self, path: str | os.PathLike) -> None:
        """Write the index to a folder (atomically)."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of indexed documents."""


def build_index(
    docs: Iterable[dict], backend: str = "bm25s", *, progress: bool = False, **params
) -> BM25Index:
    """Index ``docs`` (dicts with ``id``, ``title``, ``text``) with the named backend.

    ``params`` override the backend's defaults (both default to Lucene's BM25, k1=0.9, b=0.4);
    ``progress=True`` shows a progress bar while indexing.
    """
    cls = _backend_class(check_bm25_backend(backend))
    return cls.build(docs, progress=progress, **params)


def load_index(path: str | os.PathLike) -> BM25Index:
    """Load an index saved by :meth:`BM25Index.save` (the backend is read from the folder)."""
    from rankrag_lite.io import read_json

    path = Path(path)
    meta_path = path / META_FILE
    if not path.is_dir() or not meta_path.is_file():
        raise RankragError(f"not a BM25 index folder (no {META_FILE}): {path}")
    meta = read_json(meta_path)
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise RankragError(f"{meta_path}: not a rankrag-lite BM25 index")
    cls = _backend_class(check_bm25_backend(str(meta.get("backend"))))
    return cls.load(path, meta)


def check_bm25_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise RankragError(f"unknown BM25 backend {backend!r}; choose one of {list(BACKENDS)}")
    return backend


def _backend_class(backend: str):
    if backend == "bm25s":
        from rankrag_lite.retrieval.bm25s_backend import Bm25sIndex

        return Bm25sIndex
    from rankrag_lite.retrieval.pyserini_backend import PyseriniIndex

    return PyseriniIndex


# --- helpers shared by the backends -------------------------------------------------------------


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


def contents(doc: dict) -> str:
    """The indexed string of a document: title and text (the same for every backend)."""
    title = doc.get("title") or ""
    return f"{title}\n{doc['text']}" if title else doc["text"]


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise RankragError(f"k must be a positive integer, got {k!r}")
    return k


def check_queries(queries: Sequence[str]) -> list[str]:
    if isinstance(queries, str):
        raise RankragError("search() takes a list of queries, not one string")
    out = list(queries)
    for q in out:
        if not isinstance(q, str):
            raise RankragError(f"query is not a string: {q!r}")
    return out


def maybe_track(items, description: str, progress: bool, total: int | None = None):
    if not progress:
        return items
    from rankrag_lite.progress import track

    return track(items, description, total=total)


def check_params(params: dict, defaults: dict, backend: str) -> dict:
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise RankragError(
            f"unknown {backend} parameter(s) {unknown}; known: {sorted(defaults)}"
        )
    merged = {**defaults, **params}
    for key in ("k1", "b"):
        if key in merged:
            try:
                merged[key] = float(merged[key])
            except (TypeError, ValueError):
                raise RankragError(f"{backend} parameter {key} must be a number") from None
    return merged
