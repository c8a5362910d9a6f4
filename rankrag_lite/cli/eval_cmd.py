"""``rankrag-lite evaluate``: rankers side by side (ranx metrics) and answers from a top-k."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import (BATCH_SIZE, LOAD_IN_4BIT, RAY, RAY_ACTORS, RAY_CPUS, RAY_GPUS, SCORE,
                                     SHARD_PASSAGES, guard, no_repeats, ray_options)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)


def _split_list(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@guard
def evaluate_cmd(
    data: Path = typer.Option(..., "--data", help="Evaluation set: 2Wiki/HotpotQA distractor file, TREC DL top-100 JSON, BEIR folder, QA file (+ --corpus), or candidates JSONL."),
    out: Path = typer.Option(..., "--out", help="Report folder: metrics.json, per_question.jsonl, report.md, recall_at_k.png, and runs/ (each row's ranking as a TREC run)."),
    fmt: str = typer.Option("auto", "--format", help="auto, passages, hotpotqa, musique, trec-dl, beir, qa, candidates, ctxs."),
    rankers: Optional[list[str]] = typer.Option(None, "--rankers", help="Baselines, comma separated: given, bm25, minilm, random, longest (default: given or bm25, minilm, random)."),
    model: Optional[list[str]] = typer.Option(None, "--model", help="A model to rank with P(True) (repeatable)."),
    run: Optional[list[str]] = typer.Option(None, "--run", help="NAME=FILE: a TREC run or reranked JSONL to compare (repeatable)."),
    k: list[str] = typer.Option(["1,2,5,10,20"], "--k", help="Cut-offs for Recall@k / AnswerRecall@k (comma separated)."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Qrels (TREC or BEIR TSV); TREC DL default: qrels.txt beside --data."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Corpus for the BM25 first stage of a QA set."),
    depth: int = typer.Option(100, "--depth", help="First-stage depth: BM25 top-k for BEIR / QA + corpus; the first k of a given order (TREC DL, candidates)."),
    split: str = typer.Option("test", "--split", help="BEIR split."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N questions."),
    score: str = SCORE,
    batch_size: int = BATCH_SIZE,
    answer: Optional[bool] = typer.Option(None, "--answer/--no-answer", help="Generate answers and report EM/F1/Acc (default: when --answer-model or --answer-from is given, or a model is and the set has answers)."),
    answer_from: Optional[list[str]] = typer.Option(None, "--answer-from", help="Rankers whose top-k is answered (default: the answering model's ranking)."),
    answer_k: int = typer.Option(5, "--answer-k", help="Passages the answer reads."),
    answer_model: Optional[str] = typer.Option(None, "--answer-model", help="Model that answers (default: the first --model)."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, help="Greedy decoding budget."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random ranker."),
    load_in_4bit: bool = LOAD_IN_4BIT,
    fuse: Optional[list[str]] = typer.Option(None, "--fuse", help="bm25 or bm25:W (repeatable): one more row per model, MODEL+bm25:W, its P(True) fused with the first-stage BM25 score (the run's own scores, else BM25 over the candidates); report it as fusion, not as the model."),
    significance: Optional[str] = typer.Option(None, "--significance", help="A row's name (bm25, given, a model's label, MODEL+bm25:W): every other row is compared with it question by question (paired randomization test, ranx): difference, p-value, wins / losses."),
    ray: Optional[str] = RAY,
    ray_actors: int = RAY_ACTORS,
    ray_gpus: float = RAY_GPUS,
    ray_cpus: float = RAY_CPUS,
    shard_passages: int = SHARD_PASSAGES,
) -> None:
    """Compare rankers (Recall@k, answer recall, MRR@10, nDCG@10 via ranx) and answers (EM/F1/Acc)."""
    from rankrag_lite.modeling.quant import check_4bit
    from rankrag_lite.errors import RankragError
    from rankrag_lite.evaluation import evaluate, load_eval_set
    from rankrag_lite.progress import console
    from rankrag_lite.ranking.scorer import check_method

    from rankrag_lite.ranking.fusion import parse_fuse

    check_method(score)
    if load_in_4bit:
        check_4bit()
    fusions = [parse_fuse(f) for f in _split_list(fuse)] if fuse else []
    if fusions and not model:
        raise RankragError("--fuse needs a --model whose P(True) is fused with BM25")
    try:
        ks = [int(x) for x in _split_list(k)]
    except ValueError:
        raise RankragError(f"--k takes integers, got {k}") from None
    no_repeats(model, "--model")
    runs = {}
    for spec in no_repeats(run, "--run"):
        if "=" not in spec:
            name, path = Path(spec).stem, spec
        else:
            name, path = spec.split("=", 1)
        if name in runs or path in runs.values():
            raise RankragError(f"--run {spec}: its name or file is already given by another --run")
        runs[name] = path
    for name, path in runs.items():
        if not Path(path).exists():
            raise RankragError(f"run file not found: {path}")
    from rankrag_lite.io import output_lock

    with output_lock(out):
        es = load_eval_set(data, fmt, qrels=str(qrels) if qrels else None, corpus=str(corpus) if corpus else None,
                           split=split, depth=depth, limit=limit)
        summary = evaluate(es, out, baselines=_split_list(rankers) if rankers else None, models=model or [],
                           runs=runs, ks=ks, score=score, batch_size=batch_size, load_in_4bit=load_in_4bit,
                           answer=answer, answer_from=_split_list(answer_from) if answer_from else None,
                           answer_k=answer_k, answer_model=answer_model, max_new_tokens=max_new_tokens,
                           seed=seed, fuse=fusions, significance=significance,
                           ray=ray_options(ray, ray_actors, ray_gpus, ray_cpus), shard_passages=shard_passages)
    from rankrag_lite.evaluation.report import markdown

    console.print(markdown(summary))
    console.print(f"wrote {out}/metrics.json, per_question.jsonl, report.md, recall_at_k.png, runs/")
