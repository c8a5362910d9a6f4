"""The non-GPU parts of scripts/gpu_check.sh: a random small Llama with a real tokenizer, P(True)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rankrag_lite import prompts

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")], check=True)


def test_random_llama_and_p_true(tiny_model_path, tiny_model, tmp_path, fixtures):
    from rankrag_lite.modeling.smoke import make_random_llama, p_true, score_blend

    dest = make_random_llama(tmp_path / "rl", tokenizer=tiny_model_path, hidden=64, layers=2)
    assert (dest / "config.json").exists() and (dest / "tokenizer_config.json").exists()
    res = score_blend(str(dest), str(fixtures / "blend_tiny.jsonl"), limit=6)
    assert res["n"] == 6 and res["all_finite_in_0_1"]

    model, tok = tiny_model
    passage = "Hamlet is a tragedy written by William Shakespeare around 1600."
    rel, irr = p_true(model, tok, [prompts.ranking_prompt("who wrote hamlet", passage),
                                   prompts.ranking_prompt("what is the boiling point of water", passage)])
    assert 0.0 <= irr <= 1.0 and 0.0 <= rel <= 1.0
