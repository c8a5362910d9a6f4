"""``rankrag-lite build-blend``: the five-part Stage-2 training blend (thin wrapper over data.blend)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import guard


def register(app: typer.Typer) -> None:
    @app.command("build-blend")
    @guard
    def build_blend_cmd(
        recipe: Path = typer.Option(..., "--recipe", help="Recipe YAML with a 'blend:' section."),
        out: Path = typer.Option(..., "--out", help="Output folder (written atomically; replaced if it exists)."),
        data_root: Optional[Path] = typer.Option(
            None, "--data-root", help="Folder the recipe's data paths are relative to (e.g. ../shared/data)."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Override the recipe's seed."),
        exclude: Optional[list[str]] = typer.Option(
            None, "--exclude",
            help="Evaluation file whose questions are removed from the blend (normalised match); repeatable. "
                 "Any QA or ranking format: JSONL/TSV/JSON QA files, TREC topics, BEIR folders."),
    ) -> None:
        """Build the Stage-2 blend: SFT chat, context-rich QA, retrieval-augmented QA, context ranking
        (True/False with BM25 hard negatives) and retrieval-augmented ranking, mixed to the recipe's
        weights. Writes {part}.jsonl, blend.jsonl and manifest.json (counts, recipe, seed, sha256)."""
        from rankrag_lite.data.blend import build_blend
        from rankrag_lite.io import output_lock
        from rankrag_lite.progress import console

        with output_lock(out):
            manifest = build_blend(recipe, out, data_root=data_root, seed=seed, exclude=list(exclude or []))
        console.print(f"blend: {manifest['blend']['count']} examples -> {out / 'blend.jsonl'} "
                      f"(in the blend / in the part file: {blend_counts(manifest)}; "
                      f"excluded questions removed: {manifest['exclude']['removed']})")


def blend_counts(manifest: dict) -> str:
    """``sft 29/2000, ...``: each part's rows in blend.jsonl beside the rows of its {part}.jsonl."""
    used: dict[str, int] = {}
    for e in manifest["blend"]["entries"]:
        used[e["part"]] = used.get(e["part"], 0) + e["used"]
    return ", ".join(f"{p} {used.get(p, 0)}/{v['count']}" for p, v in manifest["parts"].items())
