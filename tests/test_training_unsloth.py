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

RECIPE = """\
seed: 3
finetune:
  backend: unsloth
  model: {model}
  max_length: 192
  lora: {{r: 8, alpha: 16}}
  stage2: {{max_examples: 6, batch_size: 2, grad_accum: 1, lr: 2.0e-3, max_steps: 2, save_steps: 1,
            warmup_ratio: 0.0, scheduler: constant, merge: true}}
"""


def test_unsloth_backend_trains_and_merges_on_cpu(tiny_model_path, fixtures, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(model=tiny_model_path))
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
