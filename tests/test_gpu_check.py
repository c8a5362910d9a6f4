"""scripts/gpu_check.py, the GPU check's Python side, run whole on CPU at toy size: everything in it
but CUDA (Unsloth's 4-bit load through its CPU path, QLoRA through both backends, the 16-bit merge
checked by hand, 4-bit vs 16-bit P(True)). The shell wrappers are syntax-checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_wheels.sh"])
def test_gpu_shell_scripts_are_valid_bash(script):
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], check=True)


@pytest.mark.slow
@pytest.mark.unsloth
def test_gpu_check_runs_on_cpu_at_toy_size(tiny_model_path, tmp_path):
    out = tmp_path / "gc"
    env = dict(os.environ, RANKRAG_LITE_QUIET="1", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--tokenizer", tiny_model_path,
         "--out", str(out), "--hidden", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
         "--intermediate", "128", "--steps", "2", "--hf-steps", "2", "--batch", "2",
         "--max-length", "192", "--limit", "8"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert res.returncode == 0 and res.stdout.rstrip().endswith("RESULT: PASS"), res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["checks"] == {k: True for k in ("unsloth_ran", "unsloth_loss_fell", "hf_ran", "merged_16bit",
                                                   "merge_equals_base16_plus_BA", "p_true_agreement")}
    assert summary["model"]["num_key_value_heads"] == 2 and summary["merged_dtype"] == "bfloat16"
    assert 0 < summary["merge_max_abs_error"] <= summary["merge_max_abs_weight"] / 256
    assert summary["unsloth"]["tokens_per_s"] > 0 and summary["hf"]["tokens_per_s"] > 0
