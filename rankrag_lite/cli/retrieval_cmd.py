"""``rankrag-lite index`` and ``rankrag-lite retrieve``: BM25 over a JSONL corpus."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import guard


def register(app: typer.Typer) -> None:
    app.command("index")(index_cmd)
    app.command("retrieve")(retrieve_cmd)


@guard
def index_cmd(
    corpus: str = typer.Option(
        ..., "--corpus",
        help="JSONL(.gz) of {id|_id, title, text}, or a hub dataset name (its passages, deduplicated: "
             "e.g. rajpurkar/squad's paragraphs)."),
    out: Path = typer.Option(..., "--out", help="Index folder to write."),
    backend: str = typer.Option("bm25s", "--backend", help="bm25s (embedded) or pyserini (Lucene)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a hub dataset --corpus (default: train)."),
) -> None:
    """Build a BM25 index (title + text) over a JSONL corpus or a hub dataset's passages."""
    from rankrag_lite.io import output_lock
    from rankrag_lite.progress import log
    from rankrag_lite.retrieval import build_index
    from rankrag_lite.retrieval.base import check_bm25_backend
    from rankrag_lite.retrieval.files import read_corpus_source

    check_bm25_backend(backend)
    with output_lock(out):
        docs = read_corpus_source(corpus, split=split, progress=True)
        log(f"indexing {len(docs):,} documents with {backend}")
        index = build_index(docs, backend=backend, progress=True)
        index.save(out)
    log(f"wrote {backend} index of {len(index):,} documents to {out}")


@guard
def retrieve_cmd(
    index: Path = typer.Option(..., "--index", help="Folder written by `rankrag-lite index`."),
    queries: Path = typer.Option(..., "--queries", help="JSONL {qid, question} or TSV qid<TAB>query."),
    out: Path = typer.Option(..., "--out", help="Candidates JSONL {qid, question, passages}."),
    k: int = typer.Option(100, "--k", min=1, help="Passages per query."),
    run: Optional[Path] = typer.Option(None, "--run", help="Also write a TREC run file."),
) -> None:
    """Retrieve the top-k passages (with text) for each query."""
    from rankrag_lite.io import output_lock
    from rankrag_lite.progress import console, warn
    from rankrag_lite.retrieval import load_index
    from rankrag_lite.retrieval.files import read_queries, retrieve_to_files

    with output_lock(out), (output_lock(run) if run else contextlib.nullcontext()):
        pairs = read_queries(queries)
        bm25 = load_index(index)
        res = retrieve_to_files(bm25, pairs, out, k=k, run=run)
    console.print(f"wrote top-{k} candidates for {res.queries:,} queries to {out}" + (f" and {run}" if run else ""))
    if res.no_hits:
        some = ", ".join(res.no_hits[:5])
        warn(f"{len(res.no_hits)} of {res.queries} queries found no passage (written with passages: [], "
             f"which rerank refuses; e.g. {some}); the BM25 analyser is English")
