"""``rankrag-lite merge``: fold a LoRA adapter into its base and save a plain model folder.

peft's ``merge_and_unload`` on the base reloaded from its original 16/32-bit weights (never the NF4
ones a QLoRA run trained on), in the base's own dtype. The tokenizer and its chat template are saved
beside the weights. The output folder appears only when complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_dir
from rankrag_lite.modeling.loading import adapter_base_name, resolve_model


def find_adapter(path: str | os.PathLike) -> Path:
    """The adapter folder of a finetune output (``DIR/adapter``) or an adapter folder itself."""
    path = Path(path)
    if (path / "adapter" / "adapter_config.json").exists():
        return path / "adapter"
    if (path / "adapter_config.json").exists():
        return path
    raise RankragError(f"{path} holds no LoRA adapter (no adapter_config.json)")


def base_dtype(base: str):
    """The dtype a base model folder stores its weights in (``config.json``), fp32 when unnamed."""
    import torch

    cfg_path = Path(base) / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    name = str(cfg.get("dtype") or cfg.get("torch_dtype") or "float32")
    dtype = getattr(torch, name, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def merge_adapter(adapter_dir: str | os.PathLike, out: str | os.PathLike, *,
                  backend: str = "hf", dtype=None) -> Path:
    """Merge ``adapter_dir`` (or a finetune output folder) into its base; write ``out``.

    The base is always reloaded from its original (16- or 32-bit) weights, never quantised, so an
    adapter trained with QLoRA (on NF4 weights) is folded into the weights it will ship with, not
    into dequantised NF4 ones (Unsloth issues 1519, 871, 1558). This holds for both backends: the
    adapter files are peft's own format whichever trained them, so ``backend`` is accepted for the
    CLI's sake and does not change the arithmetic. ``dtype`` defaults to the base's stored dtype
    (peft computes each delta in fp32 on CPU and casts back).
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from rankrag_lite.modeling.loading import load_tokenizer

    if backend not in ("hf", "unsloth", "auto"):
        raise RankragError(f"unknown backend {backend!r}: use hf, unsloth or auto")
    adapter = find_adapter(adapter_dir)
    out = Path(out)
    if out.resolve() == adapter.resolve() or adapter.resolve() in out.resolve().parents:
        raise RankragError("--out must not be inside the adapter folder")
    base = resolve_model(adapter_base_name(adapter))
    if dtype is None:
        dtype = base_dtype(base)
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    except OSError as e:
        raise RankragError(f"cannot load the adapter's base {base!r}: {str(e).splitlines()[0]}") from e
    if getattr(model, "hf_quantizer", None) is not None:
        raise RankragError(f"the adapter's base {base!r} is a quantised checkpoint; merge needs its 16-bit weights")
    model = PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        merged = model.merge_and_unload()
    tok_src = adapter if (adapter / "tokenizer_config.json").exists() else base
    tok = load_tokenizer(str(tok_src))
    with atomic_dir(out) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
    return out
