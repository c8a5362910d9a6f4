"""``rankrag-lite merge``: fold a LoRA adapter into its base and save a plain model folder.

On CPU (and for the hf backend) peft's ``merge_and_unload`` in the base's dtype (fp32 on CPU); with
Unsloth on a GPU its ``save_pretrained_merged(..., "merged_16bit")``. The tokenizer and its chat
template are saved beside the weights. The output folder appears only when complete.
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


def merge_adapter(adapter_dir: str | os.PathLike, out: str | os.PathLike, *,
                  backend: str = "hf", dtype=None) -> Path:
    """Merge ``adapter_dir`` (or a finetune output folder) into its base; write ``out``."""
    import torch

    adapter = find_adapter(adapter_dir)
    out = Path(out)
    if out.resolve() == adapter.resolve() or adapter.resolve() in out.resolve().parents:
        raise RankragError("--out must not be inside the adapter folder")
    if backend == "unsloth":
        from rankrag_lite.modeling.unsloth_loader import cuda_available, import_unsloth

        if cuda_available():
            unsloth = import_unsloth()
            model, tok = unsloth.FastLanguageModel.from_pretrained(
                model_name=str(adapter), load_in_4bit=True
            )
            with atomic_dir(out) as tmp:
                model.save_pretrained_merged(str(tmp), tok, save_method="merged_16bit")
            return out
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from rankrag_lite.modeling.loading import load_tokenizer

    base = resolve_model(adapter_base_name(adapter))
    if dtype is None:
        base_cfg = json.loads((Path(base) / "config.json").read_text()) if Path(base, "config.json").exists() else {}
        dtype = getattr(torch, str(base_cfg.get("dtype") or base_cfg.get("torch_dtype") or "float32"), torch.float32)
        if not torch.cuda.is_available():
            dtype = torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    model = PeftModel.from_pretrained(model, str(adapter))
    merged = model.merge_and_unload()
    tok_src = adapter if (adapter / "tokenizer_config.json").exists() else base
    tok = load_tokenizer(str(tok_src))
    with atomic_dir(out) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
    return out
