"""Unsloth, imported lazily and only on the ``unsloth`` backend's path.

Unsloth patches transformers / TRL when it is imported, so nothing else in the kit imports it. Its
import failures (not installed, a CUDA torchvision on a CPU torch, ...) become one clear
:class:`RankragError`.
"""

from __future__ import annotations

import importlib.util
import os

from rankrag_lite.errors import RankragError

INSTALL_HINT = (
    "install it on a CUDA machine with 'bash scripts/install_gpu.sh' (keeps your torch), or on CPU run "
    "'make setup' (it installs Unsloth's CPU path); or use --backend hf"
)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def import_unsloth():
    """``unsloth`` module (FastLanguageModel etc.); RankragError with the reason if it cannot load."""
    if not unsloth_installed():
        raise RankragError(f"the unsloth backend needs the package unsloth: {INSTALL_HINT}")
    if not cuda_available():
        # This kit computes in fp32 on CPU (bf16 is emulated and very slow on AVX2 machines, and some
        # virtual CPUs advertise avx512_bf16 without being fast at it).
        os.environ.setdefault("UNSLOTH_CPU_BF16", "0")
    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
    try:
        import unsloth  # noqa: F401  (must come before transformers/trl patches take effect)
        from unsloth import FastLanguageModel  # noqa: F401
    except Exception as e:  # import errors, RuntimeError from torch ops, NotImplementedError ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        # the cause stays attached (``raise ... from e``): an error inside unsloth is a bug to see
        raise RankragError(f"cannot import unsloth ({type(e).__name__}: {msg}); {INSTALL_HINT}") from e
    return unsloth
