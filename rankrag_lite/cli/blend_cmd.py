"""``rankrag-lite build-blend``: the five-part Stage-2 training blend (thin wrapper over data.blend)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import guard
from rankrag_lite.errors import RankragError


def register(app: typer.Typer) -> None:
    app.command("build-blend")(build_blend_cmd)


@guard
def build_blend_cmd(
    recipe: Path = typer.Option(..., "--recipe", help="Recipe YAML with a 'blend:' section."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output folder (written atomically; replaced if it exists). Not with --check."),
    data_root: Optional[Path] = typer.Option(
        None, "--data-root", help="Folder the recipe's data paths are relative to (e.g. ../shared/data)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the recipe's seed."),
    size: Optional[int] = typer.Option(
        None, "--size", min=1,
        help="Examples in blend.jsonl, overriding the recipe's blend.size (the part files keep every example)."),
    exclude: Optional[list[str]] = typer.Option(
        None, "--exclude",
        help="Evaluation file whose questions are removed from the blend (normalised match); repeatable. "
             "Any QA or ranking format: JSONL/TSV/JSON QA files, TREC topics, BEIR folders."),
    labels: Optional[Path] = typer.Option(
        None, "--labels",
        help="Judged pairs (rankrag-lite label output) instead of the recipe's blend.judge.labels; the "
             "thresholds come from blend.judge."),
    check: bool = typer.Option(
        False, "--check",
        help="Check the recipe instead of building: load the first --check-rows records of every source "
             "(hub sources streamed), report per source the examples each part gets and every field "
             "problem; writes nothing. Exit 2 when a source has a problem."),
    check_rows: int = typer.Option(20, "--check-rows", min=1,
                                   help="Records read per source by --check."),
) -> None:
    """Build the Stage-2 blend: SFT chat, context-rich QA, retrieval-augmented QA, context ranking
    (True/False with BM25 hard negatives) and retrieval-augmented ranking, mixed to the recipe's
    weights. Writes {part}.jsonl, blend.jsonl and manifest.json (counts, recipe, seed, sha256)."""
    from rankrag_lite.progress import console

    if check:
        if out is not None:
            raise RankragError("--check writes nothing; drop --out")
        _check(recipe, data_root, check_rows)
        return
    if out is None:
        raise RankragError("build-blend needs --out (or --check to only check the recipe)")
    from rankrag_lite.data.blend import build_blend
    from rankrag_lite.io import output_lock

    with output_lock(out):
        manifest = build_blend(recipe, out, data_root=data_root, seed=seed, exclude=list(exclude or []),
                               size=size, labels=labels)
    console.print(f"blend: {manifest['blend']['count']} examples -> {out / 'blend.jsonl'} "
                  f"(in the blend / in the part file: {blend_counts(manifest)}; "
                  f"excluded questions removed: {manifest['exclude']['removed']})")
    if "judge" in manifest:
        counts = ", ".join(f"{k} {v}" for k, v in manifest["judge"]["counts"].items())
        console.print(f"blend: judge labels {manifest['judge']['labels']}: {counts}")


def blend_counts(manifest: dict) -> str:
    """``sft 29/2000, ...``: each part's rows in blend.jsonl beside the rows of its {part}.jsonl."""
    used: dict[str, int] = {}
    for e in manifest["blend"]["entries"]:
        used[e["part"]] = used.get(e["part"], 0) + e["used"]
    return ", ".join(f"{p} {used.get(p, 0)}/{v['count']}" for p, v in manifest["parts"].items())


def _check(recipe: Path, data_root: Optional[Path], rows: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    from rankrag_lite.data.blend import check_blend
    from rankrag_lite.progress import console

    report = check_blend(recipe, data_root=data_root, rows=rows)
    table = Table(title=f"recipe check: {recipe} (first {rows} records per source)")
    for col in ("source", "path", "format", "records", "examples per part", "problems / warnings"):
        table.add_column(col)
    for name, e in report["sources"].items():
        parts = ", ".join(f"{p} {v['examples']}" for p, v in e["parts"].items()) or "-"
        notes = [f"PROBLEM {p}" for p in e["problems"]] + [f"warning {w}" for w in e["warnings"]]
        table.add_row(name, escape(e["path"]), str(e["format"] or "?"), str(e["records"]), parts,
                      escape("\n".join(notes)) or "ok")
    console.print(table)
    n = len(report["problems"])
    if n:
        raise RankragError(f"recipe check: {n} problem(s) in {len({p.split(':')[0] for p in report['problems']})} "
                           f"source(s): {report['problems'][0]}")
    console.print(f"recipe check: {len(report['sources'])} sources ok ({len(report['warnings'])} warnings)")
