"""The ``finetune:`` section of a recipe, validated strictly (unknown keys / wrong types fail).

One dataclass, :class:`StageConfig`, holds each setting of a stage once: its type, its default and
a help text (``rankrag-lite recipe-keys`` prints them; ``docs/recipes.md`` is that listing). The
recipe key, the ``finetune`` option (``max_steps`` / ``--max-steps``) and the key in the run's saved
``OUT/recipe.yaml`` are the same name. Shape::

    finetune:
      backend: hf | unsloth | auto     # shared keys: both stages' defaults
      model: smollm2-135m
      max_length: 512
      load_in_4bit: false
      method: lora
      lora: {r: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, ...]}
      stage1: {data: ..., last_turn_only: true, lr: 2.0e-4, ...}   # any key, for that stage
      stage2: {model: ..., data: ..., ...}

A stage's setting comes from the first of: the command-line option, the stage's key, the shared key,
the default.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from rankrag_lite.recipes import check_fields, check_value, section, type_name
from rankrag_lite.errors import RankragError, SettingError

SEVEN_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

#: checks of a value (after its type): ``(test, what a good value is)``
_AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
_POSITIVE = (lambda v: v > 0, "> 0")
_NOT_NEGATIVE = (lambda v: v >= 0, ">= 0")


def _key(default: Any = dataclasses.MISSING, help: str = "", *, factory=None, shared: bool = False,
         trl: str | None = None, option: str | None = None, valid=None, recipe: bool = True):
    """A setting: ``help`` for the listing; ``shared``: also a key of ``finetune:`` itself (a default
    for both stages); ``trl``: the SFTConfig argument it is passed as; ``option``: the ``finetune``
    command-line option that overrides it; ``valid``: ``(test, text)`` on a non-null value, checked
    by the class's ``__post_init__`` (:func:`_check_fields`)."""
    metadata = {"help": help, "shared": shared, "trl": trl, "option": option, "valid": valid,
                "recipe": recipe}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class LoraSettings:
    r: int = _key(16, "LoRA rank (the inner size of each adapter)", valid=_AT_LEAST_1)
    alpha: int = _key(16, "LoRA alpha (the update is scaled by alpha / r)", valid=_POSITIVE)
    dropout: float = _key(0.0, "dropout on the LoRA input", valid=(lambda v: 0 <= v < 1, "in [0, 1)"))
    target_modules: list[str] = _key(help="the projections that get adapters",
                                     factory=lambda: list(SEVEN_PROJECTIONS),
                                     valid=(lambda v: len(v) > 0, "a non-empty list"))

    def __post_init__(self):
        _check_fields(self)


@dataclass
class StageConfig:
    """Everything one ``finetune`` run needs: each setting once, with its default and help text.

    Built by :func:`stage_config` from a recipe, or directly. Every construction checks the values
    (``__post_init__``, as TRL's configs do: types, ranges, settings that exclude each other), so one
    built or ``dataclasses.replace``-d in a notebook is refused with the same one-line
    :class:`~rankrag_lite.errors.SettingError` as a recipe (named by the field there, by the recipe
    key or option through :func:`stage_config`). A field may be changed before :func:`finetune
    <rankrag_lite.training.finetune.finetune>` runs (the notebooks adapt batch sizes per GPU):
    :meth:`validate` checks it again, and ``finetune`` calls it."""

    stage: int = _key(help="1: SFT on chat data; 2: the RankRAG blend", option="--stage", recipe=False,
                      valid=(lambda v: v in (1, 2), "1 or 2"))
    backend: Literal["auto", "hf", "unsloth"] = _key(
        "auto", "hf (transformers + peft), unsloth, or auto (unsloth on a CUDA GPU where it is installed, "
        "hf otherwise)", shared=True, option="--backend")
    model: str = _key(
        "smollm2-135m", "what trains: a hub name, a local folder, smollm2-135m, or a finetune output / "
        "adapter (merged first: Stage 2 starts from the Stage-1 output)", shared=True, option="--model")
    data: str | None = _key(
        None, "chat JSONL: SFT data (stage 1) or the blend from build-blend (stage 2); a relative path is "
        "from the working directory", option="--data")
    max_length: int = _key(
        512, "tokens per example (longer ones are cut; a packed row holds at most this many); capped at "
        "the model's context", shared=True, trl="max_length", valid=_AT_LEAST_1)
    load_in_4bit: bool = _key(False, "NF4 4-bit base weights through bitsandbytes (QLoRA with method lora)",
                              shared=True, option="--load-in-4bit")
    method: Literal["lora", "full"] = _key(
        "lora", "lora: train LoRA adapters (QLoRA with load_in_4bit); full: every weight (no 4-bit, no "
        "adapter; the output is OUT/merged)", shared=True, option="--method")
    lora: LoraSettings = _key(help="the adapters: {r, alpha, dropout, target_modules}; a stage's lora "
                              "replaces the shared one", factory=LoraSettings, shared=True)
    last_turn_only: bool = _key(
        False, "loss on the last assistant turn only (default: true in stage1, as the paper's Stage 1; "
        "false in stage2)")
    batch_size: int = _key(4, "sequences per micro-batch (packed rows with packing)",
                           trl="per_device_train_batch_size", valid=_AT_LEAST_1)
    grad_accum: int = _key(1, "micro-batches per optimizer step (the effective batch is batch_size x "
                           "grad_accum)", trl="gradient_accumulation_steps", valid=_AT_LEAST_1)
    lr: float = _key(2e-4, "peak learning rate (AdamW)", trl="learning_rate", valid=_POSITIVE)
    scheduler: str = _key("cosine", "learning-rate schedule: cosine, linear, constant, ... (transformers' "
                          "SchedulerType)", trl="lr_scheduler_type")
    scheduler_kwargs: dict[str, Any] = _key(
        help="the schedule's own arguments (transformers' lr_scheduler_kwargs, checked against the schedule), e.g. "
        "{num_decay_steps: 60} for warmup_stable_decay",
        factory=dict, trl="lr_scheduler_kwargs")
    decay_ratio: float = _key(0.0, "warmup_stable_decay: the fraction of the run's steps in the final decay "
                              "(its num_decay_steps, counted once the steps are known: a run cut by "
                              "--max-steps decays over its own end)", valid=(lambda v: 0 <= v < 1, "in [0, 1)"))
    warmup_ratio: float = _key(0.03, "fraction of the steps that warm the learning rate up",
                               trl="warmup_steps", valid=(lambda v: 0 <= v < 1, "in [0, 1)"))
    weight_decay: float = _key(0.0, "AdamW weight decay", trl="weight_decay", valid=_NOT_NEGATIVE)
    adam_beta2: float = _key(0.999, "AdamW beta2 (the paper: 0.98)", trl="adam_beta2",
                             valid=(lambda v: 0 <= v < 1, "in [0, 1)"))
    max_grad_norm: float = _key(1.0, "gradient clipping norm", trl="max_grad_norm", valid=_NOT_NEGATIVE)
    epochs: float = _key(1.0, "passes over the data (max_steps or train_examples, when set, decides instead)",
                         trl="num_train_epochs", valid=_POSITIVE)
    max_steps: int = _key(-1, "optimizer steps to run (-1: as many as epochs take)", trl="max_steps",
                          option="--max-steps", valid=(lambda v: v == -1 or v >= 1, "-1 or >= 1"))
    train_examples: int | None = _key(
        None, "the training budget in examples (sequences) seen, the paper's unit (Stage 1: 128 x 1000, "
        "Stage 2: 64 x 3300): steps = train_examples / examples per step, counted from the packed rows "
        "before training (max_steps, when set, decides instead; null: epochs decide)", valid=_AT_LEAST_1)
    max_cut_fraction: float = _key(
        0.05, "refuse the run when max_length would cut more than this fraction of the examples below "
        "their answer (checked before the model loads)", shared=True, valid=(lambda v: 0 <= v <= 1, "in [0, 1]"))
    max_examples: int | None = _key(None, "train on a seeded sample of at most this many examples "
                                    "(null: all)", valid=_AT_LEAST_1)
    packing: bool = _key(True, "pack examples best-fit-decreasing into padding-free rows of max_length "
                         "tokens (batch_size then counts rows)", trl="packing")
    gradient_checkpointing: bool = _key(False, "recompute activations in the backward pass: less memory, "
                                        "slower (Unsloth's own on its backend)", trl="gradient_checkpointing")
    save_steps: int = _key(50, "a checkpoint every N steps (--resume continues from the last one)",
                           trl="save_steps", valid=_AT_LEAST_1)
    save_total_limit: int = _key(2, "checkpoints kept while training", trl="save_total_limit",
                                 valid=_AT_LEAST_1)
    snapshot_adapters: bool = _key(False, "keep each checkpoint's adapter in OUT/snapshots/step-N (the "
                                   "learning curve; method lora)")
    logging_steps: int = _key(1, "a line in OUT/train_log.jsonl every N steps", trl="logging_steps",
                              valid=_AT_LEAST_1)
    merge: bool = _key(False, "also write OUT/merged: the adapter merged into its 16/32-bit base (Stage 2 "
                       "starts from it)")
    share_system_head: bool = _key(False, "share the ChatQA system head across the rows of a packed sequence "
                                   "(hf backend)")
    seed: int | None = _key(None, "seed of the data sample and order and of the LoRA init (null: the "
                            "recipe's top-level seed, 42 when unset)", trl="seed")

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Each value's type and range, the adapters' (``lora.r``, ...), then the settings that
        exclude or need each other: a :class:`~rankrag_lite.errors.SettingError` naming the field."""
        _check_fields(self)
        if isinstance(self.lora, LoraSettings):  # (a dict given for it was built into one above)
            try:
                _check_fields(self.lora)
            except SettingError as e:
                raise e.named(f"lora.{e.key}") from None
        if self.method == "full" and self.load_in_4bit:
            raise SettingError("load_in_4bit", lambda name: f"full fine-tuning trains 16/32-bit weights: "
                               f"drop {name} (QLoRA is method lora)")
        if (self.scheduler == "warmup_stable_decay" and not self.decay_ratio
                and "num_decay_steps" not in self.scheduler_kwargs):
            raise SettingError("scheduler", lambda name: f"{name}: warmup_stable_decay needs decay_ratio (the "
                               "fraction of the steps in the final decay) or scheduler_kwargs.num_decay_steps")
        _check_scheduler_kwargs(self)
        if self.method == "full" and self.snapshot_adapters:
            raise SettingError("snapshot_adapters", lambda name: f"{name} keeps LoRA adapters; a full "
                               "fine-tuning run has none (set it to false)")


#: what a stage takes when neither the recipe nor the command line says
STAGE_DEFAULTS = {1: {"last_turn_only": True}, 2: {}}

_FIELDS = {f.name: f for f in dataclasses.fields(StageConfig)}
#: keys of ``finetune.stage1`` / ``finetune.stage2``
STAGE_KEYS = [n for n, f in _FIELDS.items() if f.metadata["recipe"]]
#: keys of ``finetune:`` itself (besides stage1 / stage2)
SHARED_KEYS = [n for n, f in _FIELDS.items() if f.metadata["shared"]]
_TRL_NAMES = {f.metadata["trl"]: n for n, f in _FIELDS.items() if f.metadata["trl"]}


def _unknown_key_hint(key) -> str | None:
    if key in _TRL_NAMES and _TRL_NAMES[key] != key:
        return f"'{key}' is TRL's name: the recipe key is '{_TRL_NAMES[key]}'"
    return None


def _shared_key_hint(key) -> str | None:
    if key in STAGE_KEYS:
        return f"'{key}' is a stage key: set it under stage1 / stage2"
    return _unknown_key_hint(key)


def option_name(key: str) -> str:
    """How the error messages name a setting given to :func:`stage_config` (the CLI option)."""
    return _FIELDS[key].metadata["option"] or f"{key}="


def stage_config(recipe: dict, stage: int, **options) -> StageConfig:
    """Resolve one stage's settings: ``options`` (the command line; ``None``: not given) > the
    stage's keys > the shared keys > the defaults. Both stages are validated.

    ``options`` take any recipe key (``model``, ``data``, ``backend``, ``max_steps``,
    ``load_in_4bit``, ``method``, ...); an unknown one is a TypeError."""
    unknown = sorted(set(options) - set(STAGE_KEYS))
    if unknown:
        raise TypeError(f"stage_config() got unexpected keyword(s) {unknown}; settings: {STAGE_KEYS}")
    if stage not in (1, 2):
        raise RankragError(f"--stage must be 1 or 2, got {stage}")
    ft = section(recipe, "finetune")
    shared = check_fields(StageConfig, ft, "finetune", keys=SHARED_KEYS, hint=_shared_key_hint,
                          others=("stage1", "stage2"))
    # (where a value comes from, the values), first to last; a later one wins
    layers: list[tuple[str, dict]] = [("default", STAGE_DEFAULTS[stage]), ("finetune", shared)]
    for n in (1, 2):  # both stages are checked: a typo in stage2 fails a stage-1 run as well
        where, keys = f"finetune.stage{n}", ft.get(f"stage{n}") or {}
        if isinstance(keys, dict):  # null under a stage key: the shared value
            keys = {k: v for k, v in keys.items() if not (v is None and k in SHARED_KEYS)}
        keys = check_fields(StageConfig, keys, where, keys=STAGE_KEYS, hint=_unknown_key_hint)
        if n == stage:
            layers.append((where, keys))
    hints = _hints(StageConfig)
    given = {k: check_value(v, hints[k], option_name(k))  # option values are input too (--method half)
             for k, v in options.items() if v is not None}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}  # where each value came from, for the messages
    for where, layer in layers:
        for key, value in layer.items():
            values[key], origin[key] = value, f"{where}.{key}"
    for key, value in given.items():
        values[key], origin[key] = value, option_name(key)
    if values.get("seed") is None:
        seed = recipe.get("seed", 42)
        values["seed"] = check_value(seed, int, "seed")
    try:
        return StageConfig(stage=stage, **values)  # checked by StageConfig itself
    except SettingError as e:  # named where the value came from: finetune.stage2.lr, --max-steps
        head, dot, rest = e.key.partition(".")
        raise e.named(origin.get(head, head) + dot + rest) from None


#: what the Trainer passes a schedule itself (a recipe giving one would fail inside it)
_SCHEDULER_SET_BY_TRAINER = {"optimizer", "num_warmup_steps", "num_training_steps"}


def _check_scheduler_kwargs(cfg: StageConfig) -> None:
    """Each key of ``scheduler_kwargs`` is an argument of the schedule's function: checked with the
    recipe, not by a TypeError once the model has loaded (transformers is imported only when the
    recipe gives some)."""
    if not cfg.scheduler_kwargs:
        return
    import inspect

    from transformers.optimization import TYPE_TO_SCHEDULER_FUNCTION
    from transformers.trainer_utils import SchedulerType

    try:
        fn = TYPE_TO_SCHEDULER_FUNCTION[SchedulerType(cfg.scheduler)]
    except (ValueError, KeyError):  # an unknown schedule: finetune's own check names it
        return
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [n for n in params if n not in _SCHEDULER_SET_BY_TRAINER]
    unknown = sorted(set(cfg.scheduler_kwargs) - set(takes), key=str)
    if unknown:
        raise SettingError("scheduler_kwargs", lambda name: f"{name}: the {cfg.scheduler} schedule takes no "
                           f"{unknown}; its arguments: {takes}")


def _check_fields(obj) -> None:
    """Each field of settings dataclass ``obj``: its type (a mapping given for a nested settings
    class is built into one), then its range (``valid`` of :func:`_key`); a
    :class:`~rankrag_lite.errors.SettingError` naming the field."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        try:
            value = check_value(value, _hints(type(obj))[f.name], f.name)
        except SettingError:  # a nested class's own check: already named lora.r
            raise
        except RankragError as e:  # the type: "lr: expected float, got str ('x')" (where begins with f.name)
            raise SettingError(f.name, lambda name, rest=str(e)[len(f.name):]: name + rest) from None
        setattr(obj, f.name, value)
        valid = f.metadata.get("valid")
        if valid is not None and value is not None and not valid[0](value):
            raise SettingError(f.name, lambda name, text=valid[1], got=value: f"{name} must be {text}, got {got}")


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def trl_arguments(cfg: StageConfig) -> dict:
    """The settings that SFTConfig takes as they are, by SFTConfig's names (``lr`` ->
    ``learning_rate``, ...); :mod:`~rankrag_lite.training.finetune` adjusts some of them."""
    return {f.metadata["trl"]: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.metadata["trl"]}


def describe_keys() -> str:
    """The ``finetune:`` keys as a Markdown table (``rankrag-lite recipe-keys``, docs/recipes.md)."""

    def default(f) -> str:
        if f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            if dataclasses.is_dataclass(value):
                return "(below)"
        else:
            value = f.default
        text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        return f"`{text}`"

    def row(prefix: str, f, hints) -> str:
        notes = []
        if f.metadata.get("shared"):
            notes.append("shared")
        if f.metadata.get("option"):
            notes.append(f"`{f.metadata['option']}`")
        if f.metadata.get("valid"):
            notes.append(f.metadata["valid"][1])
        if f.metadata.get("trl") and f.metadata["trl"] != f.name:
            notes.append(f"TRL: {f.metadata['trl']}")
        cells = [f"`{prefix}{f.name}`", type_name(hints[f.name]), default(f), ", ".join(notes),
                 f.metadata["help"]]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = ["| key | type | default | notes | what |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(StageConfig):
        if f.metadata["recipe"]:
            lines.append(row("", f, typing.get_type_hints(StageConfig)))
        if f.name == "lora":
            lines.extend(row("lora.", g, typing.get_type_hints(LoraSettings))
                         for g in dataclasses.fields(LoraSettings))
    return "\n".join(lines) + "\n"
