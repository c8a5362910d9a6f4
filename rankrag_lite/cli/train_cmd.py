"""``rankrag-lite finetune``, ``merge`` and ``recipe-keys`` (thin: parse, then call rankrag_lite.training)."""

from __future__ import annotations

from pathlib import Path

import typer

from rankrag_lite.cli.common import guard, on_interrupt


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune_cmd)
    app.command("recipe-keys")(recipe_keys_cmd)
    app.command("merge")(merge_cmd)


@guard
def finetune_cmd(
    stage: int = typer.Option(..., "--stage", help="1: SFT on chat data; 2: the RankRAG blend."),
    recipe: Path = typer.Option(..., "--recipe", help="Recipe YAML with a finetune: section."),
    out: Path = typer.Option(..., "--out", help="Output folder (adapter, recipe, log, loss curve)."),
    model: str | None = typer.Option(None, "--model", help="Hub name, local folder, smollm2-135m, "
                                      "or a finetune output / adapter (merged first)."),
    data: str | None = typer.Option(None, "--data", help="Chat JSONL (SFT data or the blend)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N optimizer steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint."),
    backend: str | None = typer.Option(None, "--backend", help="hf | unsloth | auto"),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 base weights (QLoRA)."),
    method: str | None = typer.Option(None, "--method", help="lora (adapters; QLoRA with --load-in-4bit) or full (every weight; output in OUT/merged). Default: the recipe's finetune.method, else lora."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (steps, tokens per step, total "
                                 "tokens, passes over the data, memory estimate) and the pre-flight "
                                 "checks, without loading the model or writing anything."),
) -> None:
    """Fine-tune one stage with LoRA/QLoRA through TRL's SFTTrainer (the plan is printed first)."""
    on_interrupt("To continue, run the same command with --resume: it goes on from the last "
                 f"checkpoint (every save_steps steps) kept beside {out}.")
    from rankrag_lite.recipes import load_recipe
    from rankrag_lite.training.finetune import finetune
    from rankrag_lite.training.config import stage_config

    rec = load_recipe(recipe)
    cfg = stage_config(rec, stage, model=model, data=data, backend=backend, max_steps=max_steps,
                       load_in_4bit=True if load_in_4bit else None, method=method)
    finetune(cfg, out, recipe_path=recipe, recipe=rec, resume=resume, dry_run=dry_run)


def recipe_keys_cmd() -> None:
    """List the finetune keys of a recipe: type, default, notes, help (the table of docs/recipes.md)."""
    from rankrag_lite.training.config import describe_keys

    typer.echo(describe_keys(), nl=False)


@guard(may_hold_output=("run", "adapter"))  # merge RUN writes RUN/merged
def merge_cmd(
    run: Path | None = typer.Argument(None, help="A finetune output folder: merges RUN/adapter into "
                                      "RUN/merged (redoes a merge that failed after training)."),
    adapter: Path | None = typer.Option(None, "--adapter", help="Adapter folder or finetune output folder."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the merged model + tokenizer "
                                    "(default with RUN: RUN/merged)."),
    backend: str = typer.Option("hf", "--backend", help="hf | unsloth | auto: all fold the adapter into "
                                "the original 16/32-bit base, weight by weight (never NF4)."),
) -> None:
    """Merge a LoRA adapter into its base's original weights (the base's dtype: bf16 for Llama 3), one
    weight at a time (a Llama-3-8B merge fits a Colab's RAM)."""
    from rankrag_lite.errors import RankragError
    from rankrag_lite.io import output_lock
    from rankrag_lite.progress import log
    from rankrag_lite.training.merge import merge_adapter

    if (run is None) == (adapter is None):
        raise RankragError("give a finetune output folder (rankrag-lite merge RUN) or --adapter, not both")
    if out is None:
        if run is None:
            raise RankragError("--adapter needs --out (or give a finetune output folder: merge RUN)")
        out = run / "merged"
    with output_lock(out):
        merge_adapter(run or adapter, out, backend=backend)
    log(f"merged model in {out}")
