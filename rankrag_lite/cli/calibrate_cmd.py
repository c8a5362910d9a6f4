"""``rankrag-lite calibrate``: fit temperature + bias scaling of P(True) on a labelled dev set."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import RAY, RAY_ACTORS, RAY_CPUS, RAY_GPUS, SHARD_PASSAGES, guard, ray_options


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate_cmd)


@guard
def calibrate_cmd(
    model: str = typer.Option(..., "--model", help="Model folder, LoRA adapter folder, or smollm2-135m-rankrag."),
    data: Path = typer.Option(..., "--data", help="Labelled dev set evaluate reads (2Wiki/HotpotQA distractor file, TREC DL, BEIR, candidates JSONL with is_gold)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Calibration JSON to write (default: calibration.json inside the model folder, where the scorer finds it)."),
    fmt: str = typer.Option("auto", "--format", help="Format of --data (as evaluate --format)."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="Qrels for --data (TREC DL / BEIR / candidates)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N questions (the first half fits, the second half is the held-out report)."),
    passages: Optional[int] = typer.Option(None, "--passages", min=1, help="Only each question's first N candidates."),
    score: str = typer.Option("true-false", "--score", help="true-false or true-vocab (the calibration is for this score only)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Prompts per forward pass."),
    bins: int = typer.Option(10, "--bins", min=2, help="Equal-width bins of the ECE and the reliability diagram."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Reliability diagram PNG of the held-out split (default: --out with .png)."),
    scores: Optional[Path] = typer.Option(None, "--scores", help="Also write every pair's raw and calibrated score (JSONL)."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 weights through bitsandbytes (CUDA GPU, or CPU with bitsandbytes >= 0.49); the fit is for NF4 scores only."),
    ray: Optional[str] = RAY,
    ray_actors: int = RAY_ACTORS,
    ray_gpus: float = RAY_GPUS,
    ray_cpus: float = RAY_CPUS,
    shard_passages: int = SHARD_PASSAGES,
) -> None:
    """Fit P(True) calibration on half of a dev set; report ECE / Brier before and after on the other half."""
    import json

    from rankrag_lite.cli.common import load_ranker
    from rankrag_lite.evaluation import load_eval_set
    from rankrag_lite.evaluation.calibration import calibrate, fitting_pairs
    from rankrag_lite.modeling.loading import resolve_model
    from rankrag_lite.modeling.quant import check_4bit
    from rankrag_lite.progress import console, log
    from rankrag_lite.ranking.calibration import default_path, model_fingerprint
    from rankrag_lite.ranking.scorer import check_method

    check_method(score)
    if load_in_4bit:
        check_4bit()
    out = out if out is not None else default_path(model)
    plot = plot if plot is not None else out.with_suffix(".png")
    es = load_eval_set(data, fmt, qrels=str(qrels) if qrels else None, limit=limit)
    rows = fitting_pairs(es, passages, where=data)
    on_ray = ray_options(ray, ray_actors, ray_gpus, ray_cpus)
    if on_ray is not None:
        from rankrag_lite.ranking.distributed import RayScorer, ScorerSpec, work_dir

        scorer = RayScorer(ScorerSpec(model, score=score, batch_size=batch_size, load_in_4bit=load_in_4bit,
                                      calibration=None), on_ray, shard_passages=shard_passages, work=work_dir(out))
    else:
        scorer = load_ranker(model, load_in_4bit, score=score, batch_size=batch_size, calibration=None).scorer
    log(f"scoring {len(rows):,} pairs of {len({r['qid'] for r in rows})} questions")
    cal = calibrate(scorer, rows, model=model, fingerprint=model_fingerprint(resolve_model(model)), out=out,
                    plot=plot, scores=scores, data=str(data), n_bins=bins)
    console.print(json.dumps({"temperature": round(cal.temperature, 4), "bias": round(cal.bias, 4),
                              **{s: cal.fit[s] for s in ("fit", "heldout") if s in cal.fit}}))
    log(f"wrote {out} and {plot}")
