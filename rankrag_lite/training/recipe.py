"""The ``finetune:`` section of a recipe, validated strictly (unknown keys / wrong types fail).

Shape::

    finetune:
      backend: hf | unsloth | auto     # auto: unsloth on a CUDA GPU, hf otherwise
      model: smollm2-135m              # base for Stage 1 (and Stage 2 when stage2.model is unset)
      max_length: 512
      load_in_4bit: false
      method: lora                     # lora (adapters; QLoRA with load_in_4bit) | full (all weights)
      lora: {r: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, ...]}
      stage1: {data: ..., last_turn_only: true, lr: 2.0e-4, ...}
      stage2: {model: ..., data: ..., ...}

Each stage overrides the shared keys it names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from rankrag_lite.config import from_dict, section
from rankrag_lite.errors import RankragError

SEVEN_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(SEVEN_PROJECTIONS))


@dataclass
class StageSettings:
    """One stage's settings; ``None`` means 'take the shared value'."""

    model: str | None = None
    data: str | None = None
    backend: Literal["auto", "hf", "unsloth"] | None = None
    max_length: int | None = None
    load_in_4bit: bool | None = None
    method: Literal["lora", "full"] | None = None
    lora: LoraSettings | None = None
    last_turn_only: bool = False
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 2e-4
    scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    adam_beta2: float = 0.999
    max_grad_norm: float = 1.0
    epochs: float = 1.0
    max_steps: int = -1
    max_examples: int | None = None
    packing: bool = True
    #: pack rows that open with the same system turn behind one copy of it (hf backend, packing on)
    share_system_head: bool = False
    gradient_checkpointing: bool = False
    save_steps: int = 50
    save_total_limit: int = 2
    snapshot_adapters: bool = False  #: keep each checkpoint's adapter in OUT/snapshots/step-N
    logging_steps: int = 1
    merge: bool = False
    seed: int | None = None


@dataclass
class FinetuneSection:
    backend: Literal["auto", "hf", "unsloth"] = "auto"
    model: str = "smollm2-135m"
    max_length: int = 512
    load_in_4bit: bool = False
    #: ``lora``: train LoRA adapters (QLoRA with ``load_in_4bit``); ``full``: every weight (the paper's
    #: choice; for small models on one device: no 4-bit, no adapter, the output is ``OUT/merged``)
    method: Literal["lora", "full"] = "lora"
    lora: LoraSettings = field(default_factory=LoraSettings)
    stage1: StageSettings = field(default_factory=lambda: StageSettings(last_turn_only=True))
    stage2: StageSettings = field(default_factory=StageSettings)


@dataclass
class StageConfig:
    """Everything one ``finetune`` run needs, shared keys resolved."""

    stage: int
    backend: str
    model: str
    data: str | None
    max_length: int
    load_in_4bit: bool
    method: str
    lora: LoraSettings
    last_turn_only: bool
    batch_size: int
    grad_accum: int
    lr: float
    scheduler: str
    warmup_ratio: float
    weight_decay: float
    adam_beta2: float
    max_grad_norm: float
    epochs: float
    max_steps: int
    max_examples: int | None
    packing: bool
    gradient_checkpointing: bool
    save_steps: int
    save_total_limit: int
    snapshot_adapters: bool
    logging_steps: int
    merge: bool
    seed: int
    share_system_head: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def parse_finetune(recipe: dict) -> FinetuneSection:
    data = section(recipe, "finetune")
    data = dict(data)
    for key in ("stage1", "stage2"):
        if key in data and data[key] is None:
            data[key] = {}
    ft = from_dict(FinetuneSection, data, "finetune")
    if "stage1" in data and "last_turn_only" not in (data["stage1"] or {}):
        ft.stage1.last_turn_only = True  # the paper's Stage 1 default
    return ft


def stage_config(recipe: dict, stage: int, *, model: str | None = None, data: str | None = None,
                 backend: str | None = None, max_steps: int | None = None,
                 load_in_4bit: bool | None = None, method: str | None = None) -> StageConfig:
    """Resolve one stage's settings: CLI options > stage keys > shared keys."""
    if stage not in (1, 2):
        raise RankragError(f"--stage must be 1 or 2, got {stage}")
    ft = parse_finetune(recipe)
    st: StageSettings = ft.stage1 if stage == 1 else ft.stage2
    values = {f.name: getattr(st, f.name) for f in dataclasses.fields(StageSettings)}
    for key in ("backend", "max_length", "load_in_4bit", "method", "lora"):
        if values[key] is None:
            values[key] = getattr(ft, key)
    if values["model"] is None:
        values["model"] = ft.model
    if model is not None:
        values["model"] = model
    if data is not None:
        values["data"] = data
    if backend is not None:
        values["backend"] = backend
    if max_steps is not None:
        values["max_steps"] = max_steps
    if load_in_4bit:
        values["load_in_4bit"] = True
    if method is not None:
        values["method"] = method
    if values["method"] not in ("lora", "full"):
        raise RankragError(f"--method must be lora or full, got {values['method']!r}")
    if values["method"] == "full" and values["load_in_4bit"]:
        raise RankragError("full fine-tuning trains 16/32-bit weights: drop --load-in-4bit (QLoRA is method lora)")
    if values["method"] == "full" and values["snapshot_adapters"]:
        raise RankragError(f"finetune.stage{stage}.snapshot_adapters keeps LoRA adapters; a full fine-tuning "
                           "run has none (set it to false)")
    if values["seed"] is None:
        values["seed"] = int(recipe.get("seed", 42))
    for key in ("batch_size", "grad_accum", "max_length", "save_steps", "logging_steps"):
        if values[key] < 1:
            raise RankragError(f"finetune.stage{stage}.{key} must be >= 1, got {values[key]}")
    if values["lr"] <= 0:
        raise RankragError(f"finetune.stage{stage}.lr must be > 0")
    if values["max_steps"] == 0 or values["max_steps"] < -1:
        raise RankragError(f"--max-steps must be >= 1, got {values['max_steps']}")
    return StageConfig(stage=stage, **values)
