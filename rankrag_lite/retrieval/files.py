"""Corpus and query files in, candidate files out (what ``rankrag-lite index`` / ``retrieve`` use).

- Corpus: JSONL or JSONL.gz of ``{id, title, text}`` (``_id`` accepted, as in BEIR), or a hub
  dataset's passages (:func:`read_corpus_source`).
- Queries: JSONL with ``{qid|id|_id, question|query|text}``, or TSV ``qid<TAB>query``.
- Candidates: JSONL ``{qid, question, passages: [{pid, title, text, score}]}`` best first (the
  input of ``rankrag-lite rerank``), plus an optional TREC run (``qid Q0 pid rank score tag``).

The file formats are read and written in :mod:`rankrag_lite.formats` (corpus and queries files in
``formats.corpus``, candidate lists and runs in ``formats.trec``; ``read_corpus`` / ``read_queries`` /
``candidates_record`` / ``trec_lines`` are re-exported here for the ``index`` / ``retrieve`` commands);
this module searches and writes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from typing import NamedTuple

from rankrag_lite.formats.corpus import read_corpus, read_queries
from rankrag_lite.formats.trec import candidates_record, trec_lines
from rankrag_lite.io import atomic_write, dumps
from rankrag_lite.progress import maybe_track
from rankrag_lite.retrieval.base import BM25Index, check_k


class Retrieved(NamedTuple):
    queries: int  # queries searched (= records written)
    no_hits: list[str]  # ids of the queries that found no passage (written with ``passages: []``)


def retrieve_to_files(
    index: BM25Index,
    queries: Sequence[tuple[str, str]],
    out: str | os.PathLike,
    k: int = 100,
    run: str | os.PathLike | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> Retrieved:
    """Search every query and write candidates JSONL (and a TREC run) atomically; returns the count
    of queries and the ids of those that found nothing.

    Results are streamed into temporary files that are renamed into place only when all queries
    are done, so an interrupted run leaves no output that looks complete.
    """
    check_k(k)
    tag = f"bm25-{index.backend}"
    batches = [queries[i : i + batch_size] for i in range(0, len(queries), batch_size)]
    batches = maybe_track(batches, "Retrieving", progress, total=len(batches))
    no_hits: list[str] = []
    with atomic_write(out) as f_out, (atomic_write(run) if run else nullcontext()) as f_run:
        for batch in batches:
            results = index.search([q for _, q in batch], k=k)
            for (qid, question), hits in zip(batch, results):
                if not hits:
                    no_hits.append(qid)
                f_out.write(dumps(candidates_record(qid, question, hits)) + "\n")
                if f_run is not None:
                    f_run.writelines(trec_lines(qid, hits, tag))
    return Retrieved(len(queries), no_hits)


def read_corpus_source(source: str | os.PathLike, split: str | None = None, progress: bool = False) -> list[dict]:
    """The documents to index: a JSONL corpus file (:func:`read_corpus`), or the passages of a hub
    dataset (``data.sources.load_corpus``: e.g. ``rajpurkar/squad``'s paragraphs, deduplicated by title
    and text) from its ``split`` (default train)."""
    from rankrag_lite.data.sources import load_corpus
    from rankrag_lite.errors import RankragError
    from rankrag_lite.formats.corpus import normalize_docs
    from rankrag_lite.formats.hub import is_local

    if is_local(str(source)):
        if split is not None:
            raise RankragError(f"--split is for a hub dataset corpus, not the file {source}")
        return read_corpus(source, progress=progress)
    return normalize_docs(load_corpus(str(source), split=split))


__all__ = ["Retrieved", "candidates_record", "read_corpus", "read_corpus_source", "read_queries", "retrieve_to_files",
           "trec_lines"]
