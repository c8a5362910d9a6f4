"""``finetune --method full``: every weight of the real SmolLM2-135M trains (no LoRA); the output is a
model folder that Stage 2, rerank and evaluate load as any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.training.config import stage_config

def test_full_method_is_validated():
    rec = {"finetune": {"method": "full", "stage2": {"snapshot_adapters": True}}}
    with pytest.raises(RankragError, match="snapshot_adapters keeps LoRA adapters"):
        stage_config(rec, 2, data="x")
    with pytest.raises(RankragError, match="drop --load-in-4bit"):
        stage_config({"finetune": {"method": "full"}}, 2, data="x", load_in_4bit=True)
    with pytest.raises(RankragError, match="lora or full"):
        stage_config({"finetune": {}}, 2, data="x", method="half")
    assert stage_config({"finetune": {}}, 2, data="x").method == "lora"
    assert stage_config({"finetune": {}}, 2, data="x", method="full").method == "full"


@pytest.mark.slow
def test_full_finetune_trains_every_weight(tmp_path, tiny_model_path, tiny_recipe, fixtures):
    import torch
    from safetensors.torch import load_file

    recipe = tiny_recipe(tmp_path / "r.yaml", seed=5, max_length=160, method="full", lora=None,
                         stage2={"max_examples": 4, "lr": 5.0e-5, "max_steps": 2, "save_steps": 1})
    out = tmp_path / "full"
    res = CliRunner().invoke(app, ["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                                   str(fixtures / "blend_tiny.jsonl"), "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "full" and summary["global_step"] == 2
    assert summary["trainable_params"] > 100_000_000  # every weight, not an adapter's few million
    assert not (out / "adapter").exists() and (out / "merged" / "config.json").exists()
    new = load_file(str(out / "merged" / "model.safetensors"))
    old = load_file(str(next(Path(tiny_model_path).glob("*.safetensors"))))
    name = next(k for k in new if k.endswith("layers.0.mlp.down_proj.weight"))
    assert not torch.equal(new[name], old[name])  # a base weight changed: no LoRA, full training
    # the output is a model folder the rest of the kit loads, and it holds the trained weights: loaded
    # anew, its loss on the run's probe examples (its training examples) is the run's final probe loss,
    # which is below the base model's (recomputed here too, so both numbers are this folder's and the base's)
    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.training.data import load_chat_records, tokenize_records
    from rankrag_lite.training.finetune import PROBE_EXAMPLES, probe_loss

    trained, tok = load_model(str(out / "merged"), device="cpu", dtype=torch.float32)
    rows = tokenize_records(tok, load_chat_records(fixtures / "blend_tiny.jsonl", 4, 5), 160)[:PROBE_EXAMPLES]
    base, _ = load_model(tiny_model_path, device="cpu", dtype=torch.float32)
    assert probe_loss(base, rows) == pytest.approx(summary["probe_loss_before"], rel=1e-4)
    assert probe_loss(trained, rows) == pytest.approx(summary["probe_loss_after"], rel=1e-4)
    assert summary["probe_loss_after"] < summary["probe_loss_before"], summary
