"""Training backends: build ``(LoRA model, tokenizer)`` for TRL's SFTTrainer.

* ``hf``: transformers + peft. fp32 LoRA on CPU; NF4 4-bit through bitsandbytes when asked for.
* ``unsloth``: ``FastLanguageModel.from_pretrained(load_in_4bit=...)`` on the 16-bit base and
  ``FastLanguageModel.get_peft_model(..., use_gradient_checkpointing="unsloth")``. Unsloth is
  imported lazily, only here.
* ``auto``: unsloth on a CUDA GPU when it is installed, hf otherwise.

With ``method: full`` every weight trains (no LoRA): hf unfreezes the model, Unsloth loads it with
``full_finetuning=True``.
"""

from __future__ import annotations

from rankrag_lite.errors import RankragError
from rankrag_lite.modeling.loading import (_align_eos, default_dtype, keep_4bit_trainable, load_model,
                                           resolve_model)
from rankrag_lite.modeling.quant import check_4bit
from rankrag_lite.modeling.unsloth_loader import cuda_available, import_unsloth, unsloth_installed
from rankrag_lite.training.config import StageConfig


def device() -> str:
    return "cuda" if cuda_available() else "cpu"


def resolve_training_backend(cfg: StageConfig) -> str:
    """The backend this run trains with (``auto`` resolved: unsloth on a CUDA GPU where it is
    installed, hf otherwise). Fails early, before any output is written, when that backend or 4-bit
    cannot run here; imports unsloth on its backend (it must come before transformers)."""
    if cfg.backend == "auto":
        backend = "unsloth" if (cuda_available() and unsloth_installed()) else "hf"
    elif cfg.backend in ("hf", "unsloth"):
        backend = cfg.backend
    else:
        raise RankragError(f"unknown backend {cfg.backend!r}: use hf, unsloth or auto")
    if backend == "unsloth":
        import_unsloth()
    if cfg.load_in_4bit:
        check_4bit(device())
    return backend


def _lora_config(cfg: StageConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def build_hf(cfg: StageConfig, model_path: str):
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training

    torch.manual_seed(cfg.seed)
    dev = device()
    model, tok = load_model(model_path, device=dev, dtype=default_dtype(dev),
                            load_in_4bit=cfg.load_in_4bit, for_training=True)
    if hasattr(model, "peft_config"):
        raise RankragError(f"{model_path} is a LoRA adapter; merge it first (rankrag-lite merge)")
    model.config.use_cache = False
    if cfg.method == "full":
        model.requires_grad_(True)
        return model, tok
    if cfg.load_in_4bit:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    model = get_peft_model(model, _lora_config(cfg))
    return model, tok


def build_unsloth(cfg: StageConfig, model_path: str):
    import torch

    unsloth = import_unsloth()
    FastLanguageModel = unsloth.FastLanguageModel
    # on a GPU the kit's own choice (fp16 on a T4: Unsloth's bf16 check counts emulation), fp32 on CPU
    dtype = default_dtype("cuda") if cuda_available() else torch.float32
    try:
        model, tok = FastLanguageModel.from_pretrained(
            model_name=model_path,
            max_seq_length=cfg.max_length,
            dtype=dtype,
            load_in_4bit=cfg.load_in_4bit,
            full_finetuning=cfg.method == "full",
        )
    except OSError as e:  # the cause stays attached: an OSError may be more than a missing file
        raise RankragError(f"cannot load model {model_path!r}: {str(e).splitlines()[0]}") from e
    _align_eos(tok, model_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if cfg.method == "full":
        return model, tok
    if cfg.load_in_4bit:
        keep_4bit_trainable(model)  # Unsloth's CPU path uses bitsandbytes' Linear4bit as well
    model = FastLanguageModel.get_peft_model(
        model,
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        bias="none",
        use_gradient_checkpointing="unsloth" if cfg.gradient_checkpointing else False,
        random_state=cfg.seed,
        max_seq_length=cfg.max_length,
    )
    return model, tok


def build_model(cfg: StageConfig, backend: str, model_path: str):
    path = resolve_model(model_path)
    if backend == "unsloth":
        return build_unsloth(cfg, path)
    return build_hf(cfg, path)
