"""BM25 retrieval: one interface, two backends (``bm25s`` embedded default, ``pyserini`` Lucene).

    from rankrag_lite.retrieval import build_index, load_index
    index = build_index(docs, backend="bm25s")        # docs: [{"id", "title", "text"}, ...]
    hits = index.search(["who wrote hamlet"], k=10)   # -> [[Hit(pid, score, title, text), ...]]
    index.save("idx/"); index = load_index("idx/")

Where each idea lives: the interface, the index folder's ``meta.json`` and the checks the backends
share in :mod:`.base`; one backend per module (:mod:`.bm25s_backend`, :mod:`.pyserini_backend`);
searching a queries file into candidate files in :mod:`.files`; the factory below (the only code
that imports the backends, which import only :mod:`.base`). Corpus and queries files are read by
:mod:`rankrag_lite.formats.corpus`, candidate lists and runs written by :mod:`rankrag_lite.formats.trec`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.retrieval.base import BACKENDS, INDEX_FORMAT, META_FILE, BM25Index, Hit, check_bm25_backend


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


def _backend_class(backend: str):
    if backend == "bm25s":
        from rankrag_lite.retrieval.bm25s_backend import Bm25sIndex

        return Bm25sIndex
    from rankrag_lite.retrieval.pyserini_backend import PyseriniIndex

    return PyseriniIndex


__all__ = ["BACKENDS", "BM25Index", "Hit", "build_index", "load_index"]
