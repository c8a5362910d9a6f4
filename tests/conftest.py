"""Shared fixtures: the real tiny model (SmolLM2-135M-Instruct), loaded once per session."""

from __future__ import annotations

import os
import subprocess
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


#: the stage settings of the tests' short training runs (a few steps of the tiny model on CPU)
TINY_STAGE = {"batch_size": 2, "grad_accum": 1, "lr": 2.0e-3, "warmup_ratio": 0.0, "scheduler": "constant"}


@pytest.fixture(scope="session")
def tiny_recipe(tiny_model_path):
    """``tiny_recipe(path, stage2={...}, **finetune)``: write a finetune recipe for the tiny model (LoRA
    r=8, 192 tokens, the TINY_STAGE settings under each stage given) and return its path."""
    import yaml

    def write(path: Path, *, seed: int = 3, stage1: dict | None = None, stage2: dict | None = None,
              **finetune) -> Path:
        # 192 tokens keep the runs short and cut many answers on purpose: the cut check is off here
        # (tests/test_plan.py tests it)
        ft = {"backend": "hf", "model": tiny_model_path, "max_length": 192, "max_cut_fraction": 1.0,
              "lora": {"r": 8, "alpha": 16}, **finetune}
        for key, stage in (("stage1", stage1), ("stage2", stage2)):
            if stage is not None:
                ft[key] = {**TINY_STAGE, **stage}
        ft = {k: v for k, v in ft.items() if v is not None}  # lora=None: none (full fine-tuning)
        Path(path).write_text(yaml.safe_dump({"seed": seed, "finetune": ft}, sort_keys=False))
        return Path(path)

    return write


@pytest.fixture
def corpus(tmp_path) -> Path:
    """tests/small_corpus.py's three documents as ``tmp_path/corpus.jsonl``."""
    from cli_helpers import write_jsonl
    from small_corpus import DOCS

    return write_jsonl(tmp_path / "corpus.jsonl", DOCS)


@pytest.fixture
def index(tmp_path) -> Path:
    """A BM25 index of tests/small_corpus.py's documents in ``tmp_path/idx``, built by ``rankrag-lite index``.
    It writes its own corpus file rather than asking for ``corpus``, which a test file may override
    (tests/test_retrieval_cli.py does, with other documents)."""
    from cli_helpers import cli, write_jsonl
    from small_corpus import DOCS

    res = cli("index", "--corpus", write_jsonl(tmp_path / "corpus.jsonl", DOCS), "--out", tmp_path / "idx")
    assert res.exit_code == 0, res.output
    return tmp_path / "idx"


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


@pytest.fixture
def small_disk(tmp_path):
    """A real tmpfs of 300 KB, for full-disk cases; skipped, with the reason, where mount fails."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)

