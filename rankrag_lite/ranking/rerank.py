"""``rerank_records`` / ``rerank_file``: score every candidate with P("True") and re-sort.

Records are read one at a time and scored in chunks of about ``chunk_passages`` passages (sorted by
length inside a chunk, so batches stay tight); each chunk is written out before the next is read, to
temporary files that are renamed into place only at the end. A million-passage input thus never sits
in memory and an interrupted run leaves no output that looks complete.

Each output record is the input record with its passages re-sorted by ``rerank_score`` (best first);
every passage keeps its fields (the retriever's ``score`` among them) and gains ``rerank_score`` and
``first_stage_rank`` (1-based position in the input). The TREC run lists the same order. With a
:class:`~rankrag_lite.ranking.fusion.Fusion` (``--fuse bm25[:W]``), passages also gain ``fused_score``
(first-stage score and P(True) fused per query) and are sorted, and the run scored, by it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankrag_lite.io import atomic_write, dumps
from rankrag_lite.progress import make_progress
from rankrag_lite.ranking.candidates import iter_candidates, trec_line
from rankrag_lite.ranking.fusion import Fusion, first_stage_scores
from rankrag_lite.ranking.scorer import PTrueScorer


def _chunks(records: Iterable[dict], chunk_passages: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    size = 0
    for rec in records:
        chunk.append(rec)
        size += len(rec["passages"])
        if size >= chunk_passages:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def final_score_key(fusion: Fusion | None) -> str:
    """The passage field a reranked record is sorted by."""
    return "fused_score" if fusion is not None else "rerank_score"


def rerank_records(scorer: PTrueScorer | None, records: Iterable[dict], *, chunk_passages: int = 1024,
                   on_batch=None, fusion: Fusion | None = None, where: str = "",
                   min_score: float | None = None, chunk_scores=None) -> Iterator[dict]:
    """Yield each (normalised) record with its passages scored and re-sorted, best first.

    ``chunk_scores(n)``: the scores of the ``n``-th chunk's passages (in record order), when
    they were computed elsewhere (on Ray: :mod:`rankrag_lite.ranking.distributed`) instead of by
    ``scorer``. ``fusion``: sort by the fused score (``fused_score``). ``min_score``: keep only passages whose
    (calibrated) P(True) is at least this much (a record may be left with none); each record then
    also carries ``best_score`` (its top P(True) before the cut) and ``dropped``."""
    key = final_score_key(fusion)
    for n, chunk in enumerate(_chunks(records, chunk_passages)):
        if fusion is not None:  # before any scoring: a record without first-stage scores is an error
            first = [first_stage_scores(rec["passages"], f"{where} query {rec['qid']}") for rec in chunk]
        slots = [(r, j) for r, rec in enumerate(chunk) for j in range(len(rec["passages"]))]  # (record, passage)
        if chunk_scores is not None:
            scores = chunk_scores(n)
        else:
            seqs = [scorer.encode_pair(chunk[r]["question"], chunk[r]["passages"][j]) for r, j in slots]
            scores = scorer.score_encoded(seqs, on_batch=on_batch)
        for (r, j), s in zip(slots, scores):
            chunk[r]["passages"][j]["rerank_score"] = s
            chunk[r]["passages"][j]["first_stage_rank"] = j + 1
        for r, rec in enumerate(chunk):
            if fusion is not None:
                fused = fusion.fuse(first[r], [p["rerank_score"] for p in rec["passages"]])
                for p, f in zip(rec["passages"], fused):
                    p["fused_score"] = f
            # stable sort: ties keep the first-stage order
            rec["passages"] = sorted(rec["passages"], key=lambda p: -p[key])
            if min_score is not None:
                rec["best_score"] = max((p["rerank_score"] for p in rec["passages"]), default=None)
                kept = [p for p in rec["passages"] if p["rerank_score"] >= min_score]
                rec["dropped"] = len(rec["passages"]) - len(kept)
                rec["passages"] = kept
            yield rec


def check_candidates(path, fmt: str = "auto", *, corpus=None, queries=None, top_k=None,
                     fusion: Fusion | None = None) -> tuple[int, int]:
    """(records, passages) of an input, validating every record in one cheap pass: with ``fusion``, each
    record's first-stage scores too. Callers that must fail before loading a model call it first and
    hand its counts to :func:`rerank_file`."""
    n_rec = n_pass = 0
    for rec in iter_candidates(path, fmt, corpus=corpus, queries=queries, top_k=top_k):
        if fusion is not None:
            first_stage_scores(rec["passages"], f"{path}: query {rec['qid']}")
        n_rec += 1
        n_pass += len(rec["passages"])
    return n_rec, n_pass


def rerank_file(scorer: PTrueScorer, input_path: str | os.PathLike, out: str | os.PathLike, *,
                run_out: str | os.PathLike | None = None, fmt: str = "auto", corpus=None, queries=None,
                top_k: int | None = None, tag: str = "rankrag", chunk_passages: int = 1024,
                progress: bool = True, meta: dict | None = None, fusion: Fusion | None = None,
                min_score: float | None = None, counts: tuple[int, int] | None = None) -> dict:
    """Rerank a candidates file into ``out`` (JSONL) and ``run_out`` (TREC run, default ``out`` with
    ``.trec``). The input is validated in full before any scoring. Returns counts.

    ``scorer``: a :class:`PTrueScorer`, or a :class:`~rankrag_lite.ranking.distributed.RayScorer` (the
    chunks of ``chunk_passages`` are scored on Ray first, each kept in ``.OUT.ray/`` as it finishes, so
    that a rerun resumes; the outputs are then written as the local run writes them)."""
    out = Path(out)
    run_out = Path(run_out) if run_out else out.with_suffix(".trec")
    n_rec, n_pass = counts if counts is not None else \
        check_candidates(input_path, fmt, corpus=corpus, queries=queries, top_k=top_k, fusion=fusion)
    key = final_score_key(fusion)
    read = functools.partial(iter_candidates, input_path, fmt, corpus=corpus, queries=queries, top_k=top_k)
    on_ray = hasattr(scorer, "score_shards")  # a distributed.RayScorer
    with make_progress() as bar:
        task = bar.add_task("Reranking" + (" on Ray" if on_ray else ""), total=n_pass, info="passages")
        if not progress:
            bar.update(task, visible=False)
        store = None
        if on_ray:  # every chunk scored (and kept in the work folder) before the outputs are written
            from rankrag_lite.ranking.distributed import file_key, work_dir

            shards = ([(rec["question"], p) for rec in chunk for p in rec["passages"]]
                      for chunk in _chunks(read(), chunk_passages))
            run_key = {"input": file_key(input_path), "format": fmt, "top_k": top_k, "chunk": chunk_passages,
                   **{name: file_key(v) for name, v in (("corpus", corpus), ("queries", queries)) if v}}
            store = scorer.score_shards(shards, work_dir(out), run_key, on_batch=lambda k: bar.advance(task, k))
        with atomic_write(out) as f_out, atomic_write(run_out) as f_run:
            for rec in rerank_records(scorer, read(), chunk_passages=chunk_passages,
                                      on_batch=lambda k: bar.advance(task, k), fusion=fusion,
                                      where=str(input_path), min_score=min_score,
                                      chunk_scores=store.read if store is not None else None):
                if meta or fusion is not None:
                    rec["reranker"] = {**(meta or {}), **({"fuse": fusion.label} if fusion else {})}
                f_out.write(dumps(rec) + "\n")
                for rank, p in enumerate(rec["passages"], start=1):
                    f_run.write(trec_line(rec["qid"], p["pid"], rank, p[key], tag))
    if store is not None:
        store.remove()
    return {"records": n_rec, "passages": n_pass, "out": str(out), "run": str(run_out)}


def check_min_score(scorer: PTrueScorer, min_score: float | None, option: str = "--min-score") -> float | None:
    """``min_score`` checked: a probability in [0, 1], and only for a calibrated scorer."""
    from rankrag_lite.errors import RankragError
    from rankrag_lite.ranking.calibration import check_probability

    min_score = check_probability(min_score, option)
    if min_score is not None and not scorer.calibrated:
        raise RankragError(f"{option} needs a calibrated model: run rankrag-lite calibrate first "
                           "(or pass --calibration FILE)")
    return min_score
