"""The embedded BM25 backend: ``bm25s`` configured like Lucene (no JVM).

Lucene's BM25 (method "lucene", k1=0.9, b=0.4) over text analysed the way Lucene's English
analyzer does it: word tokens (kept whole across inner ``.`` and ``'`` as in Unicode word
segmentation), possessive ``'s`` removed, lower-cased, Lucene's 33 English stopwords removed,
Porter-stemmed with PyStemmer. Title and text are indexed together.

Folder layout: ``meta.json`` (backend, params), ``docs.jsonl`` (the documents, so hits carry
text) and ``bm25s/`` (the score matrix and vocabulary saved by bm25s).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rankrag_lite.errors import RankragError
from rankrag_lite.formats.corpus import normalize_docs
from rankrag_lite.progress import maybe_track
from rankrag_lite.retrieval.base import (
    INDEX_FORMAT,
    INDEX_VERSION,
    META_FILE,
    BM25Index,
    Hit,
    check_k,
    check_params,
    check_queries,
    contents,
)

DEFAULTS = {"method": "lucene", "k1": 0.9, "b": 0.4, "stopwords": "en", "stemmer": "porter"}
DOCS_FILE = "docs.jsonl"
BM25S_DIR = "bm25s"

# A run of word characters, joined across one inner "." or apostrophe ("u.s", "3.5", "don't").
_TOKEN_RE = re.compile(r"\w+(?:[.'\u2019]\w+)*")
_POSSESSIVE_RE = re.compile(r"['\u2019]s$")

# bm25s sets its own logger to DEBUG; once any library configures root logging (pyserini does),
# every index build would print debug lines.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class Analyzer:
    """Text -> index terms, the same for documents and queries."""

    def __init__(self, stopwords: str = "en", stemmer: str = "porter"):
        if stopwords in ("en", "english"):
            from bm25s.stopwords import STOPWORDS_EN  # Lucene's English stop set (33 words)

            self.stopwords = frozenset(STOPWORDS_EN)
        elif stopwords in ("none", "", None):
            self.stopwords = frozenset()
        else:
            raise RankragError(f"bm25s stopwords must be 'en' or 'none', got {stopwords!r}")
        if stemmer in ("none", "", None):
            self._stem = None
        else:
            import Stemmer  # PyStemmer

            if stemmer not in Stemmer.algorithms():
                raise RankragError(f"unknown PyStemmer algorithm {stemmer!r}")
            self._stem = Stemmer.Stemmer(stemmer).stemWords

    def __call__(self, text: str) -> list[str]:
        tokens = []
        for tok in _TOKEN_RE.findall(text.lower()):
            tok = _POSSESSIVE_RE.sub("", tok)
            if tok and tok not in self.stopwords:
                tokens.append(tok)
        if self._stem and tokens:
            tokens = self._stem(tokens)
        # a stem can come out empty (Porter maps a lone "s" to ""); bm25s has no id for ""
        return [t for t in tokens if t]


class Bm25sIndex(BM25Index):
    backend = "bm25s"

    def __init__(self, retriever, docs: list[dict], params: dict):
        self._bm25 = retriever
        self.docs = docs
        self.params = params
        self._analyzer = Analyzer(params["stopwords"], params["stemmer"])

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def build(cls, docs: Iterable[dict], progress: bool = False, **params) -> Bm25sIndex:
        import bm25s

        params = check_params(params, DEFAULTS, "bm25s")
        docs = normalize_docs(docs)
        analyzer = Analyzer(params["stopwords"], params["stemmer"])
        corpus_tokens = [analyzer(contents(d)) for d in maybe_track(docs, "Tokenizing", progress)]
        try:
            retriever = bm25s.BM25(k1=params["k1"], b=params["b"], method=params["method"])
        except ValueError as e:
            raise RankragError(f"bm25s: {e}") from None
        # create_empty_token keeps documents with no index terms (e.g. only stopwords) valid.
        retriever.index(corpus_tokens, create_empty_token=True, show_progress=False)
        return cls(retriever, docs, params)

    @classmethod
    def load(cls, path: str | os.PathLike, meta: dict) -> Bm25sIndex:
        import bm25s

        from rankrag_lite.io import iter_jsonl

        path = Path(path)
        if not (path / BM25S_DIR).is_dir() or not (path / DOCS_FILE).is_file():
            raise RankragError(f"incomplete bm25s index folder: {path}")
        params = check_params(meta.get("params") or {}, DEFAULTS, "bm25s")
        retriever = bm25s.BM25.load(str(path / BM25S_DIR), load_corpus=False, show_progress=False)
        docs = list(iter_jsonl(path / DOCS_FILE))
        if len(docs) != retriever.scores["num_docs"]:
            raise RankragError(f"{path}: {DOCS_FILE} does not match the index")
        return cls(retriever, docs, params)

    def save(self, path: str | os.PathLike) -> None:
        from rankrag_lite.io import atomic_dir, dumps, write_json

        with atomic_dir(path) as tmp:
            self._bm25.save(str(tmp / BM25S_DIR), show_progress=False)
            with open(tmp / DOCS_FILE, "w", encoding="utf-8") as f:
                for d in self.docs:
                    f.write(dumps(d) + "\n")
            write_json(tmp / META_FILE, self.meta())

    def meta(self) -> dict:
        return {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "backend": self.backend,
            "params": self.params,
            "num_docs": len(self.docs),
        }

    # --- retrieval -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.docs)

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        queries = check_queries(queries)
        k = min(check_k(k), len(self.docs))
        vocab = self._bm25.vocab_dict
        results = []
        for q in queries:
            ids = [vocab[t] for t in self._analyzer(q) if t in vocab]
            if not ids:
                results.append([])
                continue
            scores = self._bm25.get_scores_from_ids(ids)
            results.append([self._hit(int(i), float(scores[i])) for i in _top_k(scores, k)])
        return results

    def _hit(self, i: int, score: float) -> Hit:
        d = self.docs[i]
        return Hit(pid=d["id"], score=score, title=d.get("title") or "", text=d["text"])


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best positive scores, best first; ties by index (as Lucene does)."""
    pos = np.flatnonzero(scores > 0)
    if len(pos) > 4 * k:
        kth = np.partition(scores[pos], len(pos) - k)[len(pos) - k]
        pos = pos[scores[pos] >= kth]
    order = np.lexsort((pos, -scores[pos]))
    return pos[order[:k]]
