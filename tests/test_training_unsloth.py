"""The unsloth backend's code path on CPU (Unsloth 2026.10.9 trains on CPU through its CPU backend).

Runs only where unsloth is installed (``make setup``). The run happens in a subprocess:
importing Unsloth patches transformers / TRL for the whole process, which must not leak into the
other tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.unsloth,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("unsloth") is None, reason="unsloth is not installed"),
]

UNSLOTH_STAGE = {"max_examples": 6, "max_steps": 2, "save_steps": 1, "merge": True}


def test_unsloth_backend_trains_and_merges_on_cpu(tiny_recipe, fixtures, tmp_path):
    recipe = tiny_recipe(tmp_path / "r.yaml", backend="unsloth", stage2=UNSLOTH_STAGE)
    out = tmp_path / "u"
    env = dict(os.environ, RANKRAG_LITE_QUIET="1", HF_HUB_OFFLINE="1")
    res = subprocess.run(
        [sys.executable, "-m", "rankrag_lite", "finetune", "--stage", "2", "--recipe", str(recipe),
         "--data", str(fixtures / "blend_tiny.jsonl"), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "training on CPU" in res.stdout + res.stderr  # Unsloth's own CPU backend ran
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "unsloth" and summary["global_step"] == 2
    assert summary["probe_loss_after"] < summary["probe_loss_before"]
    assert (out / "adapter" / "adapter_config.json").exists()
    merged = json.loads((out / "merged" / "config.json").read_text())
    assert merged["eos_token_id"] == 2


def test_unsloth_backend_qlora_on_cpu_merges_into_the_original_weights(tiny_model_path, tiny_recipe, fixtures,
                                                                       tmp_path):
    """Unsloth's CPU path loads the base in NF4 (``load_in_4bit``) and trains LoRA on it; the merge
    folds the adapter into the original fp32 weights (checked by hand on one projection)."""
    import torch
    from safetensors.torch import load_file

    recipe = tiny_recipe(tmp_path / "r.yaml", backend="unsloth", load_in_4bit=True, stage2=UNSLOTH_STAGE)
    out = tmp_path / "u4"
    env = dict(os.environ, RANKRAG_LITE_QUIET="1", HF_HUB_OFFLINE="1")
    res = subprocess.run(
        [sys.executable, "-m", "rankrag_lite", "finetune", "--stage", "2", "--recipe", str(recipe),
         "--data", str(fixtures / "blend_tiny.jsonl"), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "4-bit = True" in res.stdout + res.stderr  # Unsloth's own report of its CPU load
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "unsloth" and summary["global_step"] == 2
    assert summary["probe_loss_after"] < summary["probe_loss_before"]
    acfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    lora = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    key = "model.layers.0.mlp.down_proj.weight"
    a = lora["base_model.model." + key.replace(".weight", ".lora_A.weight")].float()
    b = lora["base_model.model." + key.replace(".weight", ".lora_B.weight")].float()
    delta = (acfg["lora_alpha"] / acfg["r"]) * (b @ a)
    assert delta.abs().max() > 1e-5
    base_w = load_file(f"{tiny_model_path}/model.safetensors")[key]
    merged_w = load_file(str(out / "merged" / "model.safetensors"))[key]
    assert torch.allclose(merged_w, base_w + delta, atol=1e-5, rtol=0)
