"""``rankrag-lite label``: a judge model scores the blend's ranking pairs (thin wrapper over data.labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import guard


def register(app: typer.Typer) -> None:
    app.command("label")(label_cmd)


@guard
def label_cmd(
    judge: list[str] = typer.Option(
        ..., "--judge",
        help="Judge: a model the kit scores with (smollm2-135m, smollm2-135m-rankrag, a model or adapter folder, a hub "
             "name: its P(True)) or minilm (all-MiniLM-L6-v2 cosine, the dense extra). Repeat it to fuse judges "
             "(per question, the mean of their z-scores; P(True) as its logit)."),
    input: Path = typer.Option(
        ..., "--input",
        help="A blend folder (its blend.jsonl), a blend JSONL, or a pairs JSONL {question, text, title?, label?}. "
             "Its context-ranking and retrieval-augmented-ranking pairs are judged; it is not changed."),
    out: Path = typer.Option(
        ..., "--out",
        help="Judged pairs JSONL (written atomically at the end; a killed run resumes from .OUT.partial)."),
    sample_negatives: Optional[int] = typer.Option(
        None, "--sample-negatives", min=0,
        help="Judge only this many of the negatives, drawn with --seed (default: all)."),
    sample_positives: Optional[int] = typer.Option(
        None, "--sample-positives", min=0,
        help="Judge only this many of the positives, drawn with --seed (default: all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of --sample-negatives / --sample-positives."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Prompts per forward pass of a model judge."),
    chunk_size: int = typer.Option(256, "--chunk-size", min=1,
                                   help="Pairs scored between two saves of the partial file (resume granularity)."),
    score: str = typer.Option("true-false", "--score",
                              help="true-false: softmax over the True/False logits; true-vocab: P(True) over the "
                                   "vocabulary."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit",
                                      help="NF4 weights through bitsandbytes for a model judge."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: CUDA when there is one)."),
) -> None:
    """Score every ranking pair of a blend with a judge and write the pairs with the judge's scores beside
    them (a new file). build-blend's blend.judge section reads it to drop likely false negatives."""
    from rankrag_lite.data.labels import label_pairs
    from rankrag_lite.progress import console

    s = label_pairs(input, out, judge, batch_size=batch_size, score=score, load_in_4bit=load_in_4bit,
                    device=device, sample_negatives=sample_negatives,
                    sample_positives=sample_positives, seed=seed, chunk_size=chunk_size)
    sampled = "" if s["pairs"] == s["pairs_in_input"] else f" (of {s['pairs_in_input']}: sampled)"
    console.print(f"label: {s['pairs']} pairs{sampled} ({s['positives']} positives, {s['negatives']} negatives) "
                  f"judged by {s['judge']} -> {out}")
    for name, by_t in s["columns"].items():
        counts = "; ".join(f">= {t}: {v['negatives_at_or_above']} negatives, < {t}: {v['positives_below']} positives"
                           for t, v in by_t.items())
        console.print(f"  {name}: {counts}", markup=False, highlight=False)
