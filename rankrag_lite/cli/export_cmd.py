"""``rankrag-lite export``: write a trained model as a folder other rerankers' tools load."""

from __future__ import annotations

from pathlib import Path

import typer

from rankrag_lite.cli.common import guard


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)


@guard
def export_cmd(
    model: str = typer.Argument(..., help="Merged model folder, LoRA adapter folder, finetune output folder, "
                                          "or smollm2-135m-rankrag (an adapter is merged on the way)."),
    out: Path = typer.Argument(..., help="New folder to write (must not exist; it appears only when complete)."),
    fmt: str = typer.Option("sentence-transformers", "--format",
                            help="Output format: sentence-transformers (a CrossEncoder folder vLLM also serves)."),
) -> None:
    """Export MODEL to OUT: a sentence-transformers CrossEncoder folder (Transformer + LogitScore, the kit's
    ranking prompt as its chat template, the calibration and a model card); see docs/export.md."""
    from rankrag_lite.export import check_format, export_model
    from rankrag_lite.progress import log

    check_format(fmt)
    log(f"exporting {model} to {out} ({fmt})")
    export_model(model, out, fmt)
    log(f"wrote {out}: CrossEncoder('{out}') loads it; README.md says how to apply its calibration")
