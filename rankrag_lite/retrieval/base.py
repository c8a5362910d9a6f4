"""The retrieval interface every BM25 backend implements (backends live in sibling modules).

An index is a folder holding ``meta.json`` (format, backend, params, document count) plus the
backend's own files; :func:`rankrag_lite.retrieval.load_index` reads ``meta.json`` to pick the backend.
This module imports no backend: the factory (``build_index`` / ``load_index``) is the package's
``__init__``, the one module that knows every backend. Documents are checked into ``{id, title,
text}`` by :func:`rankrag_lite.formats.corpus.normalize_docs` (the corpus reader's normaliser).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

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


def check_bm25_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise RankragError(f"unknown BM25 backend {backend!r}; choose one of {list(BACKENDS)}")
    return backend


# --- helpers shared by the backends -------------------------------------------------------------


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
