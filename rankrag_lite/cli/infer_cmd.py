"""``rankrag-lite rerank``, ``answer`` and ``rag``: RankRAG inference with one model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import (BATCH_SIZE, LOAD_IN_4BIT, RAY, RAY_ACTORS, RAY_CPUS, RAY_GPUS, SCORE,
                                     SHARD_PASSAGES, check_paths, guard, load_ranker, ray_options, scoring_options)
from rankrag_lite.modeling.quant import check_4bit
from rankrag_lite.pipeline import ABSTAIN_TEXT

FUSE_HELP = ("First stage fused with P(True): bm25 or bm25:W; per query W * z(BM25 score) + (1 - W) * "
             "z(logit P(True)); bm25 alone takes the W chosen on the dev sets (docs/results.md).")


def register(app: typer.Typer) -> None:
    app.command("rerank")(rerank_cmd)
    app.command("answer")(answer_cmd)
    app.command("rag")(rag_cmd)


@guard
def rerank_cmd(
    model: str = typer.Option(..., "--model", help="Model folder, LoRA adapter folder, hub name, or smollm2-135m."),
    input: Path = typer.Option(..., "--input", help="Candidates JSONL (retrieve output), rank_llm JSON, or a TREC run (with --corpus and --queries)."),
    out: Path = typer.Option(..., "--out", help="Reranked JSONL: the records with rerank_score per passage, best first."),
    run: Optional[Path] = typer.Option(None, "--run", help="TREC run to write (default: --out with .trec)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Rerank only the first K candidates of each query (all if not given); fewer is an error."),
    batch_size: int = BATCH_SIZE,
    load_in_4bit: bool = LOAD_IN_4BIT,
    score: str = SCORE,
    fmt: str = typer.Option("auto", "--format", help="auto, candidates, rankllm or trec."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="With a TREC run: corpus JSONL {id|_id, title, text} or a BEIR folder."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="With a TREC run: queries TSV qid<TAB>query or JSONL."),
    max_length: int = typer.Option(2048, "--max-length", min=64, help="Longest prompt in tokens (longer passages are cut)."),
    tag: str = typer.Option("rankrag", "--tag", help="Run tag in the TREC file."),
    fuse: Optional[str] = typer.Option(None, "--fuse", help=FUSE_HELP),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="Keep only passages whose calibrated P(relevant) is at least P (0-1); needs a calibration (rankrag-lite calibrate)."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Calibration JSON to apply (default: calibration.json beside the model, when present)."),
    ray: Optional[str] = RAY,
    ray_actors: int = RAY_ACTORS,
    ray_gpus: float = RAY_GPUS,
    ray_cpus: float = RAY_CPUS,
    shard_passages: int = SHARD_PASSAGES,
) -> None:
    """Rerank candidates by the model's P("True") to the RankRAG ranking prompt."""
    from rankrag_lite.progress import log
    from rankrag_lite.ranking.rerank import check_candidates, check_min_score, rerank_file

    from rankrag_lite.io import output_lock
    from rankrag_lite.modeling.loading import check_max_length

    fusion, cal = scoring_options(model, score, load_in_4bit, fuse, min_score, "--min-score", calibration)
    on_ray = ray_options(ray, ray_actors, ray_gpus, ray_cpus)
    run = run or out.with_suffix(".trec")
    check_paths({"input": input, "out": out, "run": run})  # the default --run too (a TREC input's name)
    with output_lock(out), output_lock(run):
        # the one validation pass (records, passages and, for --fuse, first-stage scores), before the model loads
        counts = check_candidates(input, fmt, corpus=corpus, queries=queries, top_k=top_k, fusion=fusion)
        if on_ray is not None:
            from rankrag_lite.ranking.distributed import RayScorer, ScorerSpec

            scorer = RayScorer(ScorerSpec(model, score=score, batch_size=batch_size, load_in_4bit=load_in_4bit,
                                          max_length=max_length, calibration=cal), on_ray)
        else:
            m = load_ranker(model, load_in_4bit, batch_size=batch_size, score=score, calibration=cal)
            scorer = m.with_settings(max_length=check_max_length(m.model, max_length)).scorer
        check_min_score(scorer, min_score)
        res = rerank_file(scorer, input, out, run_out=run, fmt=fmt, corpus=corpus, queries=queries,
                          top_k=top_k, tag=tag, chunk_passages=shard_passages,
                          meta={"model": model, "score": score, "calibrated": scorer.calibrated},
                          fusion=fusion, min_score=min_score, counts=counts)
    log(f"reranked {res['passages']:,} passages of {res['records']:,} queries -> {res['out']} and {res['run']}")


@guard
def answer_cmd(
    model: str = typer.Option(..., "--model", help="Model folder, LoRA adapter folder, hub name, or smollm2-135m."),
    input: Path = typer.Option(..., "--input", help="Reranked JSONL (rerank output) or any candidates JSONL, passages best first."),
    out: Path = typer.Option(..., "--out", help="Answers JSONL {qid, question, answers, prediction, top_pids, em, f1, acc}."),
    k: int = typer.Option(5, "--k", help="Answer from the top-k passages (the paper: 5)."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, help="Greedy decoding budget (the paper: 32)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Prompts per generate call."),
    task: str = typer.Option("qa", "--task", help="qa (short-phrase answers) or claim (FEVER-style True/False)."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 weights through bitsandbytes (CUDA GPU, or CPU with bitsandbytes >= 0.49)."),
) -> None:
    """Answer each question from its top-k passages with the paper's inference prompt."""
    import json

    from rankrag_lite.errors import RankragError
    from rankrag_lite.generation import answer_file
    from rankrag_lite.generation.answer_file import TASKS, check_answer_input
    from rankrag_lite.io import output_lock
    from rankrag_lite.progress import console

    if task not in TASKS:
        raise RankragError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if k < 1:
        raise RankragError(f"--k must be at least 1, got {k}")
    if load_in_4bit:
        check_4bit()
    with output_lock(out):
        records = check_answer_input(input, k=k, task=task)  # the one validation pass, before the model loads
        m = load_ranker(model, load_in_4bit)
        res = answer_file(m.answerer(max_new_tokens, batch_size=batch_size), input, out, k=k, task=task,
                          records=records)
    console.print(json.dumps({k_: v for k_, v in res.items() if k_ != "metrics"}))
    if res.get("metrics"):
        for name, note in res["metrics"].items():
            console.print(f"{name}: {note}")


@guard
def rag_cmd(
    index: Path = typer.Option(..., "--index", help="BM25 index folder (rankrag-lite index)."),
    model: str = typer.Option(..., "--model", help="Model that ranks and answers (loaded once)."),
    questions: str = typer.Option(..., "--questions", help="Questions: NQ-open JSONL, DPR TSV, topics TSV, ... or a hub dataset name (answers optional)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a hub dataset --questions (default: train)."),
    out: Path = typer.Option(..., "--out", help="Output folder: candidates, reranked, answers, summary."),
    n: int = typer.Option(100, "--n", help="Passages retrieved per question (the paper: 100)."),
    k: int = typer.Option(5, "--k", help="Passages the answer reads (the paper: 5)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    batch_size: int = BATCH_SIZE,
    score: str = SCORE,
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, help="Greedy decoding budget."),
    load_in_4bit: bool = LOAD_IN_4BIT,
    fuse: Optional[str] = typer.Option(None, "--fuse", help=FUSE_HELP),
    abstain: Optional[float] = typer.Option(None, "--abstain", help="Abstain when no candidate's calibrated P(relevant) reaches P (0-1, e.g. 0.5): the answer is --abstain-text; every answer row gets best_score. Needs a calibration."),
    abstain_text: str = typer.Option(ABSTAIN_TEXT, "--abstain-text", help="The answer of a question abstained on."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Calibration JSON to apply (default: calibration.json beside the model, when present)."),
) -> None:
    """Retrieve -> rerank -> answer in one command, writing each stage's output."""
    import json

    from rankrag_lite.pipeline import rag
    from rankrag_lite.progress import console, log

    from rankrag_lite.io import output_lock

    fusion, cal = scoring_options(model, score, load_in_4bit, fuse, abstain, "--abstain", calibration)
    with output_lock(out):
        summary = rag(index, model, questions, out, n=n, k=k, split=split, limit=limit, batch_size=batch_size, score=score,
                      max_new_tokens=max_new_tokens, load_in_4bit=load_in_4bit, fusion=fusion,
                      abstain=abstain, abstain_text=abstain_text, calibration=cal)
    log(f"wrote {out}/candidates.jsonl, bm25.trec, reranked.jsonl, reranked.trec, answers.jsonl, summary.json")
    a = summary["answers"]
    console.print(json.dumps({k_: a[k_] for k_ in ("questions", "count", "no_hits", "em", "f1", "acc", "abstained")
                              if k_ in a}))
    if a.get("no_hits"):
        console.print(f"note: EM/F1/Acc are over all {a['questions']} questions asked; the {a['no_hits']} "
                      f"that retrieval found nothing for count as wrong")
