"""BM25 retrieval: one interface, two backends (``bm25s`` embedded default, ``pyserini`` Lucene).

    from rankrag_lite.retrieval import build_index, load_index
    index = build_index(docs, backend="bm25s")        # docs: [{"id", "title", "text"}, ...]
    hits = index.search(["who wrote hamlet"], k=10)   # -> [[Hit(pid, score, title, text), ...]]
    index.save("idx/"); index = load_index("idx/")
"""

from rankrag_lite.retrieval.base import BACKENDS, BM25Index, Hit, build_index, load_index

__all__ = ["BACKENDS", "BM25Index", "Hit", "build_index", "load_index"]
