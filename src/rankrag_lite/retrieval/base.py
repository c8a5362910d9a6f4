"""The retrieval interface every BM25 backend implements (backends live in sibling modules)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rankrag_lite.errors import RankragError

BACKENDS = ("bm25s", "pyserini")


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


def build_index(docs: Iterable[dict], backend: str = "bm25s", **params) -> BM25Index:
    """Index ``docs`` (dicts with ``id``, ``title``, ``text``) with the named backend."""
    raise NotImplementedError  # provided by the retrieval backends


def load_index(path: str | os.PathLike) -> BM25Index:
    """Load an index saved by :meth:`BM25Index.save` (the backend is read from the folder)."""
    raise NotImplementedError  # provided by the retrieval backends


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise RankragError(f"unknown BM25 backend {backend!r}; choose one of {list(BACKENDS)}")
    return backend
