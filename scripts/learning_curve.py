#!/usr/bin/env python
"""Learning curve of a Stage-2 run: ranking metric vs the number of ranking pairs seen.

Reads ``rankrag-lite evaluate`` outputs (``per_question.jsonl``) in which some rankers are
checkpoints of one training run, and averages each ranker over the questions that every given
evaluation shares, so points from different evaluate calls are comparable. A checkpoint's x value is
``step / total_steps * ranking examples in the run's data * passes`` (shuffled epochs, so pairs arrive
at an even rate; passes is the last ``epoch`` of ``train_log.jsonl``, 1 without it): pairs *presented*,
so a run of two passes reaches twice its data. ``summary.json`` of the finished run gives the rest.
``--also OTHER.json=LABEL`` draws a curve written earlier by this script beside this one (levers
compared on one plot; the other curve keeps its own questions, so compare on the same question set).

    python scripts/learning_curve.py --run runs/tiny-v2 \\
        --point 0=runs/eval-2wiki100:smollm2-135m \\
        --point 40=runs/eval-lc:step-40 --point 80=runs/eval-lc:step-80 \\
        --point final=runs/eval-2wiki100:smollm2-135m-rankrag \\
        --baseline runs/eval-2wiki100:bm25 --baseline runs/eval-2wiki100:random \\
        --metric Recall@2 --metric MRR@10 --out docs/img/learning_curve.png

Writes the PNG and a JSON beside it with every number plotted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_per_question(eval_dir: Path) -> dict[str, dict]:
    rows = {}
    with open(eval_dir / "per_question.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows[r["qid"]] = r["rankers"]
    return rows


def parse_ref(ref: str) -> tuple[Path, str]:
    where, _, label = ref.rpartition(":")
    if not where or not label:
        raise SystemExit(f"expected EVAL_DIR:RANKER, got {ref!r}")
    return Path(where), label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="finished finetune output (summary.json)")
    ap.add_argument("--point", action="append", required=True,
                    help="STEP=EVAL_DIR:RANKER (STEP may be 'final')")
    ap.add_argument("--baseline", action="append", default=[], help="EVAL_DIR:RANKER drawn flat")
    ap.add_argument("--metric", action="append", required=True)
    ap.add_argument("--also", action="append", default=[], help="CURVE.json=LABEL: an earlier curve of this script")
    ap.add_argument("--label", default="fine-tuned (checkpoints)", help="this run's line in the legend")
    ap.add_argument("--title", default="")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    summary = json.loads((args.run / "summary.json").read_text())
    total_steps = summary["global_step"]
    n_rank = summary["data"]["parts"].get("ranking", 0)
    passes = 1.0
    log_path = args.run / "train_log.jsonl"
    if log_path.exists():
        epochs = [json.loads(line).get("epoch") for line in log_path.read_text().splitlines() if line.strip()]
        epochs = [e for e in epochs if e is not None]
        passes = max(epochs) if epochs else 1.0
    points = []
    for spec in args.point:
        step, _, ref = spec.partition("=")
        step = total_steps if step == "final" else int(step)
        points.append((step, *parse_ref(ref)))
    baselines = [parse_ref(b) for b in args.baseline]

    cache: dict[Path, dict] = {}
    for _, d, _ in points:
        cache.setdefault(d, read_per_question(d))
    for d, _ in baselines:
        cache.setdefault(d, read_per_question(d))
    qids = set.intersection(*(set(v) for v in cache.values()))
    if not qids:
        raise SystemExit("the evaluations share no question")

    def mean(d: Path, label: str, metric: str) -> float:
        vals = []
        for q in qids:
            rankers = cache[d][q]
            if label not in rankers:
                raise SystemExit(f"{d}: no ranker {label!r} (has {sorted(rankers)})")
            vals.append(rankers[label][metric])
        return sum(vals) / len(vals)

    result = {"run": str(args.run), "questions": len(qids), "total_steps": total_steps,
              "ranking_examples": n_rank, "passes": round(passes, 3), "points": [], "baselines": {}}
    for step, d, label in sorted(points):
        result["points"].append({"step": step, "ranking_pairs_seen": round(step / total_steps * n_rank * passes),
                                 "ranker": label, **{m: mean(d, label, m) for m in args.metric}})
    for d, label in baselines:
        result["baselines"][label] = {m: mean(d, label, m) for m in args.metric}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.metric), figsize=(5 * len(args.metric), 4.6), squeeze=False)
    xs = [p["ranking_pairs_seen"] for p in result["points"]]
    for ax, m in zip(axes[0], args.metric):
        ax.plot(xs, [p[m] for p in result["points"]], marker="o", label=args.label)
        for spec in args.also:
            path, _, name = spec.partition("=")
            other = json.loads(Path(path).read_text())
            ax.plot([p["ranking_pairs_seen"] for p in other["points"]], [p[m] for p in other["points"]],
                    marker=".", alpha=0.8, label=name or Path(path).stem)
        for (label, vals), style in zip(result["baselines"].items(), ["--", ":", "-.", (0, (1, 3))]):
            ax.axhline(vals[m], linestyle=style, color="gray", label=label)
        ax.set_xlabel("ranking pairs seen")
        ax.set_ylabel(m)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(args.title or f"{args.run.name}: {len(qids)} questions")
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * ((len(labels) + 2) // 3), 1, 1))  # the legend below, off the curves
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    for p in result["points"]:
        print(p["step"], p["ranking_pairs_seen"], " ".join(f"{m}={p[m]:.3f}" for m in args.metric))
    for label, vals in result["baselines"].items():
        print(label, " ".join(f"{m}={v:.3f}" for m, v in vals.items()))


if __name__ == "__main__":
    main()
