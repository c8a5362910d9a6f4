"""``make demo``: the whole RankRAG pipeline on CPU with the real tiny model, in about 10 minutes.

build-blend -> finetune (a short Stage 2 on SmolLM2-135M-Instruct) -> merge -> rag (BM25 retrieve,
P("True") rerank, answer) -> evaluate (BM25 vs the adapter shipped with the kit vs the model just
trained), on a small real subset of the 2WikiMultihopQA dev distractor set. Every stage goes through
the same library functions as the CLI; the files it leaves are listed at the end.

    python scripts/demo.py --data-root ../shared/data --out demo-out      (what `make demo` runs)

The demo's driver, not library code: it lives outside the package and calls only the package's API.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.errors import RankragError
from rankrag_lite.progress import console

TWOWIKI = "multihop/twowiki_dev500_distractor.jsonl"


def _step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def _subset(data_root: Path, out: Path, questions: int) -> tuple[Path, Path]:
    """The first ``questions`` of the 2Wiki dev distractor set, and a corpus of their passages."""
    from rankrag_lite.data.sources import load_qa
    from rankrag_lite.io import write_jsonl

    src = data_root / TWOWIKI
    items = load_qa(str(src), limit=questions)
    eval_file = out / "eval-2wiki.jsonl"
    write_jsonl(eval_file, ({"qid": it.qid, "question": it.question, "answers": it.answers,
                             "passages": [{"title": p.title, "text": p.text, "is_gold": bool(p.is_gold)}
                                          for p in it.passages]} for it in items))
    seen: dict[tuple[str, str], dict] = {}
    for it in items:
        for p in it.passages:
            seen.setdefault((p.title, p.text), {"id": f"d{len(seen)}", "title": p.title, "text": p.text})
    corpus = out / "corpus.jsonl"
    write_jsonl(corpus, seen.values())
    return eval_file, corpus


def run_demo(data_root: Path, out: Path, recipe: Path, steps: int, questions: int,
             shipped: Optional[Path]) -> dict:
    from rankrag_lite.recipes import load_recipe
    from rankrag_lite.data.blend import build_blend
    from rankrag_lite.evaluation.datasets import load_eval_set
    from rankrag_lite.evaluation.runner import evaluate
    from rankrag_lite.io import iter_jsonl, write_json
    from rankrag_lite.modeling import load_model
    from rankrag_lite.pipeline import rag
    from rankrag_lite.retrieval import build_index
    from rankrag_lite.training.finetune import finetune
    from rankrag_lite.training.config import stage_config

    if not (data_root / TWOWIKI).exists():
        raise RankragError(f"demo data not found: {data_root / TWOWIKI} (pass --data-root)")
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t0 = time.time()

    _step("1/5 build-blend: the five-part Stage-2 blend from real data")
    manifest = build_blend(recipe, out / "blend", data_root=data_root)
    times["build-blend"] = time.time() - t0

    _step(f"2/5 finetune --stage 2: {steps} LoRA steps on SmolLM2-135M-Instruct (CPU, fp32), then merge")
    t = time.time()
    rec = load_recipe(recipe)
    cfg = stage_config(rec, 2, data=str(out / "blend" / "blend.jsonl"), max_steps=steps)
    cfg.merge = True
    cfg.max_examples = min(cfg.max_examples or 10**9, 64 * steps)  # a seeded sample: enough for the steps
    trained = finetune(cfg, out / "model", recipe=rec)
    merged = out / "just-trained"  # the merged model, named for the report
    if merged.exists():
        shutil.rmtree(merged)
    (trained / "merged").rename(merged)
    times["finetune+merge"] = time.time() - t

    _step(f"3/5 index + rag: BM25 -> P(True) rerank -> answer, {questions} 2Wiki dev questions")
    t = time.time()
    eval_file, corpus = _subset(data_root, out, questions)
    build_index(list(iter_jsonl(corpus)), backend="bm25s").save(out / "index")
    loaded = load_model(str(merged))  # one load: it ranks and answers here, and ranks in step 4
    rag_summary = rag(out / "index", str(merged), eval_file, out / "rag", n=10, k=5, loaded=loaded)
    times["rag"] = time.time() - t

    _step("4/5 evaluate: BM25 vs the shipped adapter vs the model just trained")
    t = time.time()
    es = load_eval_set(eval_file)
    models = [str(merged)]
    if shipped is not None and shipped.exists():
        models.insert(0, str(shipped))
    else:
        console.print("[yellow]no shipped adapter found: comparing BM25 with the model just trained")
    from rankrag_lite.ranking.fusion import Fusion

    summary = evaluate(es, out / "eval", baselines=["bm25", "random"], models=models, answer=False,
                       loaded={str(merged): loaded}, fuse=[Fusion()] if len(models) > 1 else [])
    times["evaluate"] = time.time() - t

    _step("5/5 results")
    result = {"blend": manifest["parts"], "times_s": {k: round(v, 1) for k, v in times.items()},
              "rag": rag_summary, "ranking": {n: r["metrics"] for n, r in summary["rankers"].items()}}
    write_json(out / "demo.json", result)
    _print_table(summary, rag_summary, steps, shipped_name=Path(models[0]).name if len(models) > 1 else None)
    console.print(f"\nfiles: {out / 'eval' / 'report.md'}, {out / 'eval' / 'metrics.json'}, "
                  f"{out / 'eval' / 'recall_at_k.png'}, {out / 'rag'}, {trained / 'loss.png'}")
    console.print(f"total {time.time() - t0:.0f} s")
    return result


def _row_notes(summary: dict, steps: int, shipped_name: str | None) -> list[tuple[str, str, str]]:
    """(row label, ranker name, what the row is) in the order a newcomer reads them."""
    from rankrag_lite.ranking.fusion import DEFAULT_WEIGHT

    rows = [("BM25", "bm25", "BM25 over each question's 10 passages: the first stage to beat"),
            ("random", "random", "a seeded shuffle: the floor")]
    if shipped_name:
        rows.append(("shipped adapter", shipped_name,
                     "the adapter shipped with the kit (recipes/tiny-cpu.yaml, docs/results.md), the model alone"))
        rows.append(("shipped + BM25 fusion", f"{shipped_name}+bm25:{DEFAULT_WEIGHT:g}",
                     f"its P(True) fused with BM25 (W={DEFAULT_WEIGHT:g}): fusion, not the model's number"))
    rows.append((f"just trained ({steps} steps)", "just-trained",
                 f"SMOKE CHECK of the training path: {steps} steps in this demo, far too few to rank; "
                 "the shipped adapter is what a full run gives"))
    return [r for r in rows if r[1] in summary["rankers"]]


def _print_table(summary: dict, rag_summary: dict, steps: int, shipped_name: str | None = None) -> None:
    from rich.table import Table

    cols = [c for c in summary["ranking_columns"] if c in ("Recall@2", "Recall@5", "MRR@10")]
    table = Table(title=f"2Wiki dev distractor, {summary['dataset']['questions']} questions x 10 passages")
    table.add_column("ranker")
    for c in cols:
        table.add_column(c, justify="right")
    table.add_column("what the row is")
    for label, name, note in _row_notes(summary, steps, shipped_name):
        r = summary["rankers"][name]
        table.add_row(label, *[f"{r['metrics'].get(c, float('nan')):.3f}" for c in cols], note)
    console.print(table)
    ans = rag_summary.get("answers") or {}
    if ans:
        console.print("rag answers of the model just trained (top-5 after reranking): "
                      + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in ans.items() if isinstance(v, (int, float))))


def main(
    data_root: Path = typer.Option(Path("../shared/data"), "--data-root", help="Folder of the real data."),
    out: Path = typer.Option(Path("demo-out"), "--out", help="Output folder."),
    recipe: Path = typer.Option(Path("recipes/tiny-cpu.yaml"), "--recipe", help="Blend + finetune recipe."),
    steps: int = typer.Option(8, "--steps", min=1, help="Stage-2 optimizer steps."),
    questions: int = typer.Option(20, "--questions", min=1, help="2Wiki dev questions to evaluate."),
    shipped: Optional[Path] = typer.Option(None, "--shipped", help="Shipped adapter (default: the kit's)."),
) -> None:
    """Run build-blend -> finetune -> merge -> rag -> evaluate on CPU and print a comparison table."""
    from rankrag_lite.modeling.loading import shipped_adapter_dir

    try:
        run_demo(data_root, out, recipe, steps, questions, shipped or shipped_adapter_dir())
    except RankragError as e:
        typer.secho(f"error: {e}", err=True, fg="red")
        raise typer.Exit(2) from None


if __name__ == "__main__":
    typer.run(main)
