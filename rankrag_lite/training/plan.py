"""The plan of a ``finetune`` run, made before any weight is loaded.

``finetune --dry-run`` prints it and stops; every run prints it as its first lines. It counts what a
run will do in the units the kit trains in: examples, the rows they are packed into (``batch_size``
counts packed rows when ``packing`` is on), optimizer steps, tokens per step, total tokens and passes
over the data, and a rough memory estimate from the model's config (its parameters counted on the
``meta`` device: no weights are read). ``train_examples`` (the paper's budget: 128 x 1000 sequences
in Stage 1, 64 x 3300 in Stage 2) becomes a number of steps here.

The checks that need no model run here too (:func:`check_plan`): a ``max_length`` that cuts more than
``max_cut_fraction`` of the examples below their answer is refused with the number; a merge the disk
cannot hold is refused with the sizes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.training.config import StageConfig

#: more passes than this over the data and the plan says so
MANY_PASSES = 3.0
GIB = 2**30


def effective_packing(cfg: StageConfig, backend: str, on_cuda: bool) -> bool:
    """Packing as the run applies it: Unsloth's CPU path trains without it."""
    return cfg.packing and not (backend == "unsloth" and not on_cuda)


def micro_and_accum(cfg: StageConfig, packing: bool, on_cuda: bool) -> tuple[int, int]:
    """``(rows per forward, forwards per step)``: on CPU a packed run takes one row per forward (its
    block-diagonal attention stays at max_length^2); rows per step are ``batch_size x grad_accum`` always."""
    if packing and not on_cuda:
        return 1, cfg.batch_size * cfg.grad_accum
    return cfg.batch_size, cfg.grad_accum


def optimizer_steps(batches_per_epoch: int, accum: int, epochs: float, max_steps: int) -> int:
    """Optimizer steps the way transformers' Trainer counts them (max_steps wins; else ceil per epoch)."""
    if max_steps > 0:
        return max_steps
    per_epoch = max(batches_per_epoch // accum + int(batches_per_epoch % accum > 0), 1)
    return math.ceil(epochs * per_epoch)


@dataclass
class TrainingPlan:
    stage: int
    backend: str
    device: str
    examples: int
    dropped: int
    answer_cut: int
    tokens: int
    trained_tokens: int
    packing: bool
    rows: int
    rows_per_step: int
    steps: int
    budget: str
    examples_per_step: float
    tokens_per_step: float
    total_tokens: float
    passes: float
    params: int | None = None
    trainable_params: int | None = None
    memory_gib: dict = field(default_factory=dict)
    merge_gib: float | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"plan: stage {self.stage}, {self.backend} backend on {self.device}",
            f"  data: {self.examples:,} examples ({self.dropped:,} dropped, {self.answer_cut:,} cut below their "
            f"answer by max_length), {self.tokens:,} tokens ({self.trained_tokens:,} trained)",
            f"  batches: {self.rows:,} {'packed rows' if self.packing else 'rows'}; {self.rows_per_step} per step "
            f"= about {self.examples_per_step:,.1f} examples, {self.tokens_per_step:,.0f} tokens per step",
            f"  budget: {self.steps:,} optimizer steps ({self.budget}) = {self.total_tokens:,.0f} tokens, "
            f"{self.passes:.2f} passes over the data",
        ]
        if self.params is not None:
            mem = ", ".join(f"{k} {v:.1f}" for k, v in self.memory_gib.items())
            out.append(f"  model: {self.params / 1e9:.2f}B parameters, {self.trainable_params / 1e6:.1f}M "
                       f"trained; memory (rough, GiB): {mem}")
        if self.merge_gib is not None:
            out.append(f"  merge: about {self.merge_gib:.1f} GiB written to OUT/merged")
        out.extend(f"  note: {n}" for n in self.notes)
        return out

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- the model, without its weights -------------------------------------------------------------------

def _start_path(cfg: StageConfig) -> Path:
    """The start model as a path: a finetune output's model (its merge, else its adapter), an alias or
    hub name resolved (a hub name online stays a name)."""
    from rankrag_lite.modeling.loading import finetune_output_model, resolve_model

    path = Path(cfg.model).expanduser()
    if not path.exists():
        path = Path(resolve_model(cfg.model))
    inner = finetune_output_model(path) if path.is_dir() else None
    return inner if inner is not None else path


def model_source(cfg: StageConfig) -> str:
    """Where the start model's config comes from, before anything is merged: a finetune output's merge,
    an adapter's base, or the model itself."""
    from rankrag_lite.modeling.loading import adapter_base_name, resolve_model

    path = _start_path(cfg)
    if (path / "adapter_config.json").exists():
        return resolve_model(adapter_base_name(path))
    return str(path)


def merge_base(cfg: StageConfig) -> str:
    """The 16-bit weights this run's adapter will be merged into: a local start model, or the hub name
    (a pre-quantised ``-bnb-4bit`` name mapped to its 16-bit repo, or a one-line error now)."""
    from rankrag_lite.modeling.loading import resolve_model
    from rankrag_lite.training.merge import is_prequantised_name, sixteen_bit_base

    if is_prequantised_name(cfg.model) and not Path(cfg.model).expanduser().exists():
        return resolve_model(sixteen_bit_base(cfg.model))
    return model_source(cfg)


def tokenizer_source(cfg: StageConfig) -> str:
    """The tokenizer the run trains with: the start model's own (an adapter's, where it saved one)."""
    path = _start_path(cfg)
    return str(path) if (path / "tokenizer_config.json").exists() else model_source(cfg)


def load_config(source: str):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise RankragError(f"cannot read the config of {source!r}: {str(e).splitlines()[0]}") from e


def count_params(config, cfg: StageConfig) -> tuple[int, int, int]:
    """``(all parameters, LoRA parameters, parameters of the adapted linear layers)`` of a model built
    from ``config`` on the meta device (no memory, no weights)."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config)
    model.tie_weights()  # a tied head is one parameter (SmolLM2), an untied one two (Llama 3)
    total = sum(p.numel() for p in model.parameters())
    lora = adapted = 0
    targets = set(cfg.lora.target_modules)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in targets:
            adapted += module.weight.numel()
            lora += cfg.lora.r * (module.in_features + module.out_features)
    return total, lora, adapted


def memory_estimate(config, cfg: StageConfig, params: tuple[int, int, int], tokens_per_forward: int,
                    on_cuda: bool) -> dict:
    """A rough peak-memory budget in GiB: weights (NF4 on the adapted layers with 4-bit), trained
    parameters with their gradients and AdamW states (fp32), and activations of one forward."""
    total, lora, adapted = params
    wbytes = 2 if on_cuda else 4
    if cfg.method == "full":
        weights, trained = total * wbytes, total * (4 + 4 + 8)
    else:
        if cfg.load_in_4bit:
            weights = adapted * 0.5 * 1.03 + (total - adapted) * wbytes  # NF4 + its double-quantised scales
        else:
            weights = total * wbytes
        trained = lora * (4 + 4 + 8)
    text = getattr(config, "get_text_config", lambda: config)()
    hidden = getattr(text, "hidden_size", 0) or 0
    layers = getattr(text, "num_hidden_layers", 0) or 0
    inter = getattr(text, "intermediate_size", 4 * hidden) or 4 * hidden
    vocab = getattr(text, "vocab_size", 0) or 0
    t = tokens_per_forward
    if cfg.gradient_checkpointing:  # one input per layer kept, one layer's internals at a time
        act = t * hidden * layers * wbytes + t * (8 * hidden + 3 * inter) * wbytes
    else:
        act = t * layers * (8 * hidden + 3 * inter) * wbytes
    act += t * vocab * 4  # fp32 logits of one forward (the trained positions, at most)
    return {"weights": weights / GIB, "trained + optimizer": trained / GIB, "activations": act / GIB,
            "total": (weights + trained + act) / GIB}


# --- the plan -----------------------------------------------------------------------------------------

def _packed_rows(rows: list[dict], cfg: StageConfig, packing: bool) -> int:
    if not packing:
        return len(rows)
    if cfg.share_system_head:
        from rankrag_lite.training.packing import pack_shared_head

        return len(pack_shared_head(rows, cfg.max_length))
    from datasets import Dataset
    from datasets.utils import logging as ds_logging
    from trl import pack_dataset

    ds = Dataset.from_dict({"input_ids": [r["input_ids"] for r in rows]})
    shown = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:  # TRL's own best-fit-decreasing packing, as SFTTrainer packs: the exact row count
        return len(pack_dataset(ds, cfg.max_length, strategy="bfd"))
    finally:
        if shown:
            ds_logging.enable_progress_bar()


def make_plan(cfg: StageConfig, backend: str, on_cuda: bool, records: list[dict], rows: list[dict],
              stats: dict, config=None) -> tuple[TrainingPlan, StageConfig]:
    """The plan, and ``cfg`` with ``max_steps`` set when ``train_examples`` decides the steps."""
    packing = effective_packing(cfg, backend, on_cuda)
    n_rows = _packed_rows(rows, cfg, packing)
    micro, accum = micro_and_accum(cfg, packing, on_cuda)
    rows_per_step = micro * accum
    examples_per_row = len(rows) / max(n_rows, 1)
    examples_per_step = rows_per_step * examples_per_row
    if cfg.max_steps > 0:
        steps, budget = cfg.max_steps, "max_steps"
    elif cfg.train_examples is not None:
        steps = max(1, math.ceil(cfg.train_examples / examples_per_step))
        budget = f"train_examples {cfg.train_examples:,}"
        cfg = dataclasses.replace(cfg, max_steps=steps)
    else:
        steps = optimizer_steps(math.ceil(n_rows / micro), accum, cfg.epochs, -1)
        budget = f"epochs {cfg.epochs:g}"
    tokens_per_row = stats["tokens"] / max(n_rows, 1)
    passes = steps * rows_per_step / max(n_rows, 1)
    plan = TrainingPlan(
        stage=cfg.stage, backend=backend, device="cuda" if on_cuda else "cpu",
        examples=stats["examples"], dropped=stats["dropped"], answer_cut=stats.get("answer_cut", 0),
        tokens=stats["tokens"], trained_tokens=stats["trained_tokens"], packing=packing, rows=n_rows,
        rows_per_step=rows_per_step, steps=steps, budget=budget, examples_per_step=examples_per_step,
        tokens_per_step=rows_per_step * tokens_per_row, total_tokens=steps * rows_per_step * tokens_per_row,
        passes=passes)
    if passes > MANY_PASSES:
        plan.notes.append(f"{passes:.1f} passes over the data is more than a few: the model may memorise it "
                          "(lower train_examples / epochs / max_steps, or add data)")
    if config is not None:
        params = count_params(config, cfg)
        plan.params, plan.trainable_params = params[0], (params[0] if cfg.method == "full" else params[1])
        plan.memory_gib = memory_estimate(config, cfg, params, micro * cfg.max_length if packing else
                                          micro * max((len(r["input_ids"]) for r in rows), default=0), on_cuda)
    return plan, cfg


def check_plan(plan: TrainingPlan, cfg: StageConfig) -> None:
    """Refuse a run whose ``max_length`` cuts too many answers, before anything is loaded."""
    total = plan.examples + plan.dropped
    cut = plan.answer_cut + plan.dropped
    if total and cut / total > cfg.max_cut_fraction:
        raise RankragError(
            f"finetune.stage{cfg.stage}.max_length {cfg.max_length} cuts {cut:,} of {total:,} examples "
            f"({100 * cut / total:.1f}%) below their answer ({plan.dropped:,} lose all of it), above "
            f"max_cut_fraction {cfg.max_cut_fraction:g}: raise max_length (or max_cut_fraction)")


# --- the merge's disk ---------------------------------------------------------------------------------

def check_merge_disk(cfg: StageConfig, out: Path, plan: TrainingPlan) -> None:
    """A merging run needs room for the 16-bit merge (and the base's 16-bit weights when they are not on
    this machine yet): refused up front with the sizes, never after hours of training. The size is
    unknown offline without the base in the cache: then it is only noted."""
    if not cfg.merge or cfg.method == "full":
        return
    from rankrag_lite.training.merge import base_cached, base_size_bytes

    source = merge_base(cfg)
    size = base_size_bytes(source)
    if size is None:
        plan.notes.append(f"merge size unknown (offline, {source} not in the hub cache): check free disk")
        return
    plan.merge_gib = size / GIB
    cached = base_cached(source)
    need = size * (1 if cached else 2)
    root = out.parent if out.parent.exists() else Path(".")
    free = shutil.disk_usage(root).free
    if need > free:
        extra = "" if cached else f" (with {size / GIB:.1f} GiB of {source}'s 16-bit weights to fetch)"
        raise RankragError(f"the merge needs about {need / GIB:.1f} GiB{extra} and {root} has "
                           f"{free / GIB:.1f} GiB free: free disk or set merge: false (merge later with "
                           "rankrag-lite merge OUT)")


def write_plan(plan: TrainingPlan, path: Path) -> None:
    path.write_text(json.dumps(plan.as_dict(), indent=2) + "\n")
