"""``rankrag-lite merge``: fold a LoRA adapter into its base and save a plain model folder.

The merge streams: each of the base's safetensors shards is copied, and each weight that takes a LoRA
delta ``scale * B @ A`` is read, folded (in fp32, on the GPU when there is one) and written back over
its own bytes in the base's dtype. Peak memory is one weight (in fp32) plus the adapter, not the model
nor a shard (a Llama-3-8B merge fits a Colab's 12.7 GB of RAM: docs/benchmarks.md), and the merge is
never folded into NF4 weights (Unsloth issues 1519, 871, 1558): a QLoRA adapter lands on the weights
it will ship with. The result equals peft's ``merge_and_unload`` on the same base (to the dtype's
rounding; ``tests/test_merge.py``).

The base comes from the adapter's ``base_model_name_or_path``: a local folder, or a hub name whose
files are read from (or downloaded into) the hub cache. A pre-quantised name (``...-bnb-4bit``) is
mapped to its 16-bit repo with Unsloth's own name table (:func:`sixteen_bit_base`). The dtype is the
base's (its ``config.json``, else its tensors'): bf16 for Llama 3.

Adapters the streaming fold does not cover (DoRA, ``modules_to_save``, embedding LoRA, a base without
safetensors) merge through peft in memory, with a warning. The tokenizer and its chat template, and the
base's licence files, are saved beside the weights. The output folder appears only when complete.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_dir
from rankrag_lite.modeling.loading import adapter_base_name, resolve_model
from rankrag_lite.progress import log

#: files copied from the base beside the merged weights (its licence travels with any copy)
_BASE_EXTRAS = ("generation_config.json", "LICENSE*", "USE_POLICY*", "NOTICE*")
_ADAPTER_PREFIX = "base_model.model."


def find_adapter(path: str | os.PathLike) -> Path:
    """The adapter folder of a finetune output (``DIR/adapter``) or an adapter folder itself."""
    path = Path(path)
    if (path / "adapter" / "adapter_config.json").exists():
        return path / "adapter"
    if (path / "adapter_config.json").exists():
        return path
    raise RankragError(f"{path} holds no LoRA adapter (no adapter_config.json)")


# --- the base: its 16-bit name, its files, its dtype ------------------------------------------------

def _unsloth_name_table() -> dict[str, str] | None:
    """Unsloth's map of pre-quantised repo names to their 16-bit repos (lower-case keys), read from
    its ``models/mapper.py`` without importing unsloth (which patches transformers); ``None`` when
    unsloth is not installed."""
    spec = importlib.util.find_spec("unsloth")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "mapper.py"
    if not path.exists():
        return None
    mod_spec = importlib.util.spec_from_file_location("_rankrag_unsloth_mapper", path)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - a changed mapper file: fall back to the name rule
        return None
    return dict(getattr(module, "INT_TO_FLOAT_MAPPER", {}) or {})


def is_prequantised_name(name: str) -> bool:
    return str(name).lower().endswith("bnb-4bit")


def sixteen_bit_base(name: str) -> str:
    """The 16-bit repo of a base model name: the name itself, or for a pre-quantised ``-bnb-4bit`` name
    the repo Unsloth's name table maps it to. A 4-bit name with no known 16-bit repo is a one-line
    error naming the likely repo, raised before any training (``finetune`` calls this up front)."""
    if not is_prequantised_name(name):
        return name
    table = _unsloth_name_table() or {}
    hit = table.get(str(name).lower())
    if hit:
        return hit
    guess = re.sub(r"(-unsloth)?-bnb-4bit$", "", str(name), flags=re.IGNORECASE)
    raise RankragError(
        f"model {name!r} is a pre-quantised 4-bit checkpoint and its 16-bit repo is unknown "
        f"({'not in Unsloth name table' if table else 'unsloth is not installed to look it up'}); the merge "
        f"needs 16-bit weights: train on the 16-bit repo (probably {guess!r}) with load_in_4bit: true")


_BASE_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.model", "LICENSE*", "USE_POLICY*", "NOTICE*"]


def base_folder(base: str) -> Path:
    """A local folder holding the base's files: the folder itself, or the hub cache's snapshot of a
    hub name (downloaded now when missing and online; only the weights, configs, tokenizer and licence)."""
    if Path(base).is_dir():
        return Path(base)
    from huggingface_hub import snapshot_download

    from rankrag_lite.modeling.loading import hub_offline

    try:
        return Path(snapshot_download(base, allow_patterns=_BASE_PATTERNS, local_files_only=hub_offline()))
    except Exception as e:  # noqa: BLE001 - no network, gated, not in the cache: one line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise RankragError(f"cannot fetch the adapter's base {base!r} ({type(e).__name__}: {first})") from e


def _shard_map(folder: Path) -> dict[str, str] | None:
    """``{tensor name: shard file}`` of a safetensors checkpoint (``None`` without safetensors)."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        return dict(json.loads(index.read_text())["weight_map"])
    single = folder / "model.safetensors"
    if single.exists():
        from safetensors import safe_open

        with safe_open(str(single), framework="pt") as f:
            return {k: "model.safetensors" for k in f.keys()}
    return None


def _stored_dtype(folder: Path, shards: dict[str, str] | None):
    """The base's dtype: ``config.json``'s ``dtype`` / ``torch_dtype``, else its first floating tensor's."""
    import torch

    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    name = cfg.get("dtype") or cfg.get("torch_dtype")
    if isinstance(name, str) and isinstance(getattr(torch, name, None), torch.dtype):
        return getattr(torch, name)
    if shards:
        from safetensors import safe_open

        for shard in sorted(set(shards.values())):
            with safe_open(str(folder / shard), framework="pt") as f:
                for key in f.keys():
                    t = f.get_slice(key)
                    dt = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}.get(t.get_dtype())
                    if dt is not None:
                        return dt
    return torch.float32


def base_dtype(base: str):
    """The dtype a base model (folder or hub name) stores its weights in: bf16 for Llama 3."""
    folder = base_folder(base)
    return _stored_dtype(folder, _shard_map(folder))


def _local_weights(base: str) -> Path | None:
    """The folder holding all of the base's safetensors shards on this machine: the base itself, or its
    complete hub-cache snapshot; ``None`` when they are not all here."""
    if Path(base).is_dir():
        return Path(base)
    try:
        from huggingface_hub import snapshot_download

        local = Path(snapshot_download(base, allow_patterns=["*.json"], local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache
        return None
    shards = _shard_map(local)
    return local if shards and all((local / s).exists() for s in set(shards.values())) else None


def base_cached(base: str) -> bool:
    """The base's weights are on this machine already (a folder, or complete in the hub cache)."""
    return _local_weights(base) is not None


def base_size_bytes(base: str) -> int | None:
    """Bytes of the base's safetensors weights, from a local copy or the hub's file list; ``None`` when
    neither can say (offline and not cached)."""
    local = _local_weights(base)
    if local is not None:
        files = set((_shard_map(local) or {}).values())
        return sum((local / f).stat().st_size for f in files) or None
    from rankrag_lite.modeling.loading import hub_offline

    if hub_offline():
        return None
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(base, files_metadata=True, timeout=10)
    except Exception:  # noqa: BLE001 - no network: unknown
        return None
    sizes = [s.size for s in info.siblings or [] if s.rfilename.endswith(".safetensors") and s.size]
    return sum(sizes) or None


# --- the adapter: its LoRA pairs and their scales ---------------------------------------------------

def _pattern_value(patterns: dict, module: str, default):
    """peft's ``rank_pattern`` / ``alpha_pattern`` lookup: a key matches a module name's dotted tail."""
    for key, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def _lora_pairs(adapter: Path):
    """``{base weight name: (A, B, scale)}`` of a plain LoRA adapter, or ``None`` (with the reason)
    when the adapter holds something the streaming fold does not cover."""
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    if str(cfg.get("peft_type", "LORA")).upper() != "LORA":
        return None, f"peft_type {cfg.get('peft_type')}"
    for key, why in (("use_dora", "DoRA"), ("fan_in_fan_out", "fan_in_fan_out")):
        if cfg.get(key):
            return None, why
    weights = adapter / "adapter_model.safetensors"
    if not weights.exists():
        return None, "adapter weights not in safetensors"
    from safetensors.torch import load_file

    tensors = load_file(str(weights))
    pairs: dict[str, list] = {}
    for name, t in tensors.items():
        m = re.fullmatch(r"(.+)\.lora_([AB])\.weight", name)
        if m is None or not name.startswith(_ADAPTER_PREFIX):
            return None, f"adapter tensor {name}"  # modules_to_save, embedding LoRA, magnitudes ...
        module = m.group(1)[len(_ADAPTER_PREFIX):]
        pairs.setdefault(module, [None, None])["AB".index(m.group(2))] = t
    out = {}
    for module, (a, b) in pairs.items():
        if a is None or b is None:
            return None, f"{module} lacks lora_A or lora_B"
        r = a.shape[0]
        alpha = _pattern_value(cfg.get("alpha_pattern"), module, cfg.get("lora_alpha", r))
        scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        out[f"{module}.weight"] = (a, b, scale)
    return out, None


def fold_lora(weight, a, b, scale: float, device: str = "cpu"):
    """``weight + scale * B @ A``, computed in fp32 on ``device`` and returned in ``weight``'s dtype."""
    import torch

    with torch.no_grad():
        w = weight.to(device=device, dtype=torch.float32)
        w.addmm_(b.to(device, torch.float32), a.to(device, torch.float32), alpha=scale)  # no temporaries
        return w.to(dtype=weight.dtype).cpu()


# --- the merge ----------------------------------------------------------------------------------------

def _tokenizer_source(adapter: Path, base: str):
    return adapter if (adapter / "tokenizer_config.json").exists() else base


def _copy_base_extras(folder: Path, dest: Path) -> None:
    for pattern in _BASE_EXTRAS:
        for f in folder.glob(pattern):
            if f.is_file():
                shutil.copy(f, dest / f.name)


_ST_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64"}


def _safetensors_header(path: Path) -> tuple[int, dict]:
    """``(offset of the data section, header)`` of a safetensors file (8-byte length, JSON header)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return 8 + n, json.loads(f.read(n))


def _patch_shard(src: Path, dest: Path, pairs: dict, device: str) -> int:
    """Copy ``src`` to ``dest`` and rewrite, in place, the bytes of each weight that takes a LoRA delta.

    A merged weight has the dtype and shape of the original, so the file's header and every other byte
    stay as they are: only one weight is in memory at a time (read with plain file reads, not mapped),
    never the shard. Returns how many weights were patched."""
    import torch

    shutil.copyfile(src, dest)
    data_start, header = _safetensors_header(src)
    patched = 0
    with open(src, "rb") as fin, open(dest, "r+b") as fout:
        for key, info in header.items():
            if key == "__metadata__" or key not in pairs:
                continue
            dtype = _ST_DTYPES.get(info["dtype"])
            if dtype is None:
                raise RankragError(f"{src.name}: {key} is stored as {info['dtype']}, not a float the merge folds")
            begin, end = info["data_offsets"]
            fin.seek(data_start + begin)
            buf = bytearray(fin.read(end - begin))
            weight = torch.frombuffer(buf, dtype=getattr(torch, dtype)).reshape(info["shape"])
            a, b, scale = pairs[key]
            merged = fold_lora(weight, a, b, scale, device)
            fout.seek(data_start + begin)
            fout.write(memoryview(merged.contiguous().view(torch.uint8).numpy()))
            del buf, weight, merged
            patched += 1
    return patched


def _stream_merge(folder: Path, shards: dict[str, str], pairs: dict, dest: Path, dtype, stored) -> None:
    """Write each shard of ``folder`` into ``dest`` with the LoRA deltas folded in.

    In the base's own dtype (the usual case) each shard is copied and its adapted weights patched in
    place, one weight in memory at a time (:func:`_patch_shard`). Cast to another ``dtype``, each shard
    is re-serialised whole (one shard in memory)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    device = "cuda" if torch.cuda.is_available() else "cpu"
    files = sorted(set(shards.values()))
    for i, shard in enumerate(files, start=1):
        if dtype is None or dtype == stored:
            _patch_shard(folder / shard, dest / shard, pairs, device)
        else:
            tensors = {}
            with safe_open(str(folder / shard), framework="pt") as f:
                metadata = f.metadata() or {}
                for key in f.keys():
                    t = f.get_tensor(key)
                    if key in pairs:
                        t = fold_lora(t, *pairs[key], device)
                    tensors[key] = t.to(dtype) if t.is_floating_point() else t
            save_file(tensors, str(dest / shard), metadata={**metadata, "format": "pt"})
            del tensors
        log(f"merge: shard {i}/{len(files)} ({shard}) written")
    index = folder / "model.safetensors.index.json"
    if index.exists():
        shutil.copy(index, dest / index.name)
    cfg = json.loads((folder / "config.json").read_text())
    if dtype is not None:
        cfg["dtype"] = str(dtype).removeprefix("torch.")
        cfg.pop("torch_dtype", None)
    (dest / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def _peft_merge(base: str, adapter: Path, dest: Path, dtype) -> None:
    """The whole model in memory through peft (adapters the streaming fold does not cover)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    except OSError as e:
        raise RankragError(f"cannot load the adapter's base {base!r}: {str(e).splitlines()[0]}") from e
    model = PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        merged = model.merge_and_unload()
    merged.save_pretrained(str(dest), safe_serialization=True)


def merge_adapter(adapter_dir: str | os.PathLike, out: str | os.PathLike, *,
                  backend: str = "hf", dtype=None) -> Path:
    """Merge ``adapter_dir`` (or a finetune output folder) into its base's original weights; write ``out``.

    ``backend`` is accepted for the CLI's sake: the adapter files are peft's own format whichever
    backend trained them, and the arithmetic is the same. ``dtype`` defaults to the base's stored dtype."""
    if backend not in ("hf", "unsloth", "auto"):
        raise RankragError(f"unknown backend {backend!r}: use hf, unsloth or auto")
    adapter = find_adapter(adapter_dir)
    out = Path(out)
    if out.resolve() == adapter.resolve() or adapter.resolve() in out.resolve().parents:
        raise RankragError("--out must not be inside the adapter folder")
    base = resolve_model(sixteen_bit_base(adapter_base_name(adapter)))
    folder = base_folder(base)
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise RankragError(f"the adapter's base {base!r} has no config.json")
    if "quantization_config" in json.loads(cfg_path.read_text()):
        raise RankragError(f"the adapter's base {base!r} is a quantised checkpoint; merge needs its 16-bit "
                           "weights (name the 16-bit repo or folder as the adapter's base)")
    shards = _shard_map(folder)
    stored = _stored_dtype(folder, shards)
    dtype = stored if dtype is None else dtype
    pairs, why = _lora_pairs(adapter)
    if pairs is not None and shards is not None:
        missing = sorted(k for k in pairs if k not in shards)
        if missing:
            pairs, why = None, f"base has no tensor {missing[0]}"
    elif shards is None:
        why = "base has no safetensors"
    from rankrag_lite.modeling.loading import load_tokenizer

    tok = load_tokenizer(str(_tokenizer_source(adapter, base)))
    with atomic_dir(out) as tmp:
        if pairs is not None:
            log(f"merge: folding {len(pairs)} LoRA weights of {adapter} into a copy of {base} -> {out} "
                f"({len(set(shards.values()))} shards, {str(dtype).removeprefix('torch.')}), one weight at a time")
            _stream_merge(folder, shards, pairs, tmp, dtype, stored)
        else:
            from rankrag_lite.progress import warn

            warn(f"merge: {why}: merging through peft with the whole model in memory")
            _peft_merge(str(folder), adapter, tmp, dtype)
        _copy_base_extras(folder, tmp)
        tok.save_pretrained(str(tmp))
    return out
