"""Shared fixtures: the real tiny model (SmolLM2-135M-Instruct), loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("RANKRAG_LITE_QUIET", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    """Folder of the cached safetensors copy of SmolLM2-135M-Instruct (converted once)."""
    from rankrag_lite.modeling.loading import tiny_model_dir

    return str(tiny_model_dir())


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    """``(model, tokenizer)`` in fp32 on CPU, shared by every test: do not modify it in place."""
    import torch

    from rankrag_lite.modeling.loading import load_model

    torch.manual_seed(0)
    model, tok = load_model(tiny_model_path, device="cpu")
    return model, tok


@pytest.fixture(scope="session")
def shipped_rankrag():
    """The shipped adapter (``smollm2-135m-rankrag``, merged on its base) as a :class:`RankRAG`, fp32 CPU."""
    from rankrag_lite import RankRAG

    return RankRAG.from_pretrained("smollm2-135m-rankrag", device="cpu")
