"""GPU profiles for the notebooks: the sequence length and micro-batch one GPU class fits, chosen from
the GPU this runtime has (its name, else its memory and compute capability). The effective batch
(micro-batch x accumulation) stays the recipe's, so a T4 takes more accumulation steps, not fewer
sequences.

``max_length`` is 2048 everywhere: the blend's five-passage rows (RA-QA, RA-ranking) need up to ~1,500
Llama 3 tokens (measured with ``scripts/row_lengths.py``, docs/recipes.md), so the old T4 setting of
1024 dropped about a third of them. A T4 fits 2048-token rows with a micro-batch of 1 (packed rows are
full, so micro-batch x max_length is what the activations cost); bigger cards take larger
micro-batches. The training dtype is the kit's choice by compute capability, not the profile's.

A profile applies to a recipe as a new recipe file (:func:`profile_recipe`), which each stage's
``rankrag-lite finetune`` process reads: the same path as the command line.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from rankrag_lite.errors import RankragError


@dataclasses.dataclass(frozen=True)
class GpuIdentity:
    name: str
    memory_gib: float
    capability: tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    max_length: int
    batch_size: int
    note: str


PROFILES = {
    "T4": Profile("T4", 2048, 1, "16 GB, sm75 (fp16, no bf16): micro-batch 1 x 2048 tokens"),
    "L4": Profile("L4", 2048, 2, "24 GB, sm89"),
    "A100-40GB": Profile("A100-40GB", 2048, 4, "40 GB, sm80"),
    "A100-80GB": Profile("A100-80GB", 2048, 8, "80 GB, sm80 (the recipe's micro-batch)"),
    "H100": Profile("H100", 2048, 8, "80 GB, sm90 (the recipe's micro-batch)"),
}

#: least memory (GiB, as CUDA reports it: a 16 GB T4 shows ~14.7) an 8B QLoRA run at 2048 tokens needs
MIN_MEMORY_GIB = 14.0


NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"]


def parse_nvidia_smi(line: str) -> GpuIdentity:
    """One line of :data:`NVIDIA_SMI_QUERY`'s output (``Tesla T4, 15360, 7.5``: MiB, major.minor)."""
    name, mib, cap = (x.strip() for x in line.rsplit(",", 2))
    major, minor = cap.split(".")
    return GpuIdentity(name, round(float(mib) / 1024, 1), (int(major), int(minor)))


def detect_gpu() -> GpuIdentity | None:
    """The first GPU, or None. Asked of ``nvidia-smi`` where it runs, so that the notebook's own
    process opens no CUDA context (it would hold GPU memory while the stages train in theirs);
    else of torch."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi"):
        res = subprocess.run(NVIDIA_SMI_QUERY, capture_output=True, text=True)
        if res.returncode == 0 and res.stdout.strip():
            return parse_nvidia_smi(res.stdout.strip().splitlines()[0])
    import torch

    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    return GpuIdentity(p.name, round(p.total_memory / 2**30, 1), (p.major, p.minor))


def as_identity(gpu) -> GpuIdentity:
    """A :class:`GpuIdentity` from one, or from a dict with name, memory_gib, capability."""
    if isinstance(gpu, GpuIdentity):
        return gpu
    try:
        return GpuIdentity(str(gpu["name"]), float(gpu["memory_gib"]), tuple(int(x) for x in gpu["capability"]))
    except (KeyError, TypeError, ValueError) as e:
        raise RankragError(f"a GPU identity needs name, memory_gib and capability [major, minor]: {gpu!r}") from e


def choose_profile(gpu) -> Profile:
    """The profile for ``gpu`` (a :class:`GpuIdentity` or dict): by name (T4, L4, A100, H100), else by
    memory and compute capability; RankragError for a GPU too small for an 8B QLoRA run."""
    g = as_identity(gpu)
    name = g.name.upper()
    if g.memory_gib < MIN_MEMORY_GIB:
        raise RankragError(f"{g.name} has {g.memory_gib} GiB: an 8B QLoRA run needs about {MIN_MEMORY_GIB} GiB "
                           "(a T4 or larger)")
    if "H100" in name or "H200" in name or g.capability >= (9, 0):
        return PROFILES["H100"]
    if "A100" in name or g.capability == (8, 0):
        return PROFILES["A100-80GB" if g.memory_gib > 48 else "A100-40GB"]
    if "T4" in name or g.memory_gib < 20:
        return PROFILES["T4"]
    if "L4" in name or g.memory_gib < 32:
        return PROFILES["L4"]
    return PROFILES["A100-40GB" if g.memory_gib <= 48 else "A100-80GB"]


def profile_recipe(recipe: str | os.PathLike, profile: Profile, dest: str | os.PathLike,
                   stages: tuple[int, ...] = (1, 2)) -> Path:
    """Write ``recipe`` with ``profile`` applied to ``dest``: ``max_length`` and, per stage, the
    micro-batch, with the accumulation raised so that micro-batch x accumulation stays the recipe's."""
    import yaml

    from rankrag_lite.recipes import load_recipe
    from rankrag_lite.io import atomic_write
    from rankrag_lite.training.config import stage_config

    data = load_recipe(recipe)
    ft = data.setdefault("finetune", {})
    ft["max_length"] = profile.max_length
    for stage in stages:
        cfg = stage_config(data, stage)
        effective = cfg.batch_size * cfg.grad_accum
        st = ft.setdefault(f"stage{stage}", {})
        st.pop("max_length", None)
        st["batch_size"] = min(profile.batch_size, effective)
        st["grad_accum"] = max(1, -(-effective // st["batch_size"]))
    text = (f"# {recipe} with the {profile.name} GPU profile ({profile.note}), written by "
            f"rankrag_lite.training.gpu_profile\n" + yaml.safe_dump(data, sort_keys=False))
    with atomic_write(dest) as f:
        f.write(text)
    return Path(dest)
