"""The plan before training (rankrag_lite.training.plan): `finetune --dry-run`, the budget in examples,
the answer-cut and merge-disk checks, and the plan agreeing with the run it announces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.training.finetune import finetune
from rankrag_lite.training.config import stage_config


def _cfg(tiny_recipe, tmp_path, fixtures, *, stage1=None, **finetune_keys):
    import yaml

    path = tiny_recipe(tmp_path / "r.yaml", stage1={"batch_size": 2, **(stage1 or {})}, **finetune_keys)
    return stage_config(yaml.safe_load(path.read_text()), 1, data=str(fixtures / "sft_chat_40.jsonl")), path


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_recipe, fixtures, tmp_path):
    path = tiny_recipe(tmp_path / "r.yaml", stage1={"epochs": 5})
    out = tmp_path / "runs" / "s1"
    res = subprocess.run(
        [sys.executable, "-m", "rankrag_lite", "finetune", "--stage", "1", "--recipe", str(path), "--data",
         str(fixtures / "sft_chat_40.jsonl"), "--out", str(out), "--dry-run"],
        capture_output=True, text=True, env={**os.environ, "RANKRAG_LITE_QUIET": "0"})
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stderr.split())  # the console wraps long lines
    for part in ("plan: stage 1, hf backend on cpu", "packed rows", "optimizer steps (epochs 5)",
                 "tokens per step", "passes over the data", "parameters", "memory (rough, GiB)",
                 "passes over the data is more than a few"):
        assert part in text, part
    assert not (tmp_path / "runs").exists()  # no output, no work folder, no lock


def test_budget_in_examples_becomes_steps_from_the_packed_rows(tiny_recipe, fixtures, tmp_path):
    cfg, _ = _cfg(tiny_recipe, tmp_path, fixtures, stage1={"train_examples": 30, "grad_accum": 2})
    plan = finetune(cfg, tmp_path / "out", dry_run=True)
    assert plan.rows_per_step == 4 and plan.budget == "train_examples 30"
    examples_per_row = plan.examples / plan.rows
    assert plan.examples_per_step == pytest.approx(4 * examples_per_row)
    assert plan.steps == -(-30 // plan.examples_per_step)  # ceil
    assert plan.passes == pytest.approx(plan.steps * 4 / plan.rows)
    # max_steps, when given, decides instead
    cfg2 = stage_config({"finetune": {"model": cfg.model, "max_length": 192, "max_cut_fraction": 1.0,
                                      "stage1": {"train_examples": 30}}}, 1, data=cfg.data, max_steps=3)
    assert finetune(cfg2, tmp_path / "out", dry_run=True).steps == 3


def test_max_length_that_cuts_answers_is_refused_with_the_number(tiny_recipe, fixtures, tmp_path):
    cfg, path = _cfg(tiny_recipe, tmp_path, fixtures, max_cut_fraction=0.05)
    with pytest.raises(RankragError, match=r"max_length 192 cuts 19 of 40 examples \(47\.5%\) below their "
                                           r"answer \(4 lose all of it\)"):
        finetune(cfg, tmp_path / "out", dry_run=True)
    res = CliRunner().invoke(app, ["finetune", "--stage", "1", "--recipe", str(path), "--data",
                                   str(fixtures / "sft_chat_40.jsonl"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and not (tmp_path / "o").exists()


def test_the_plan_reads_no_weights(tiny_recipe, tiny_model_path, fixtures, tmp_path):
    """A folder with the config and tokenizer but no weight file plans like the full model."""
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model_path, bare, ignore=shutil.ignore_patterns("*.safetensors"))
    cfg, _ = _cfg(tiny_recipe, tmp_path, fixtures, model=str(bare))
    plan = finetune(cfg, tmp_path / "out", dry_run=True)
    assert plan.params == pytest.approx(134.5e6, rel=0.01)  # SmolLM2-135M, counted on the meta device
    assert plan.trainable_params > 0 and plan.memory_gib["total"] > 0


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs here (needs root): {res.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_a_merge_the_disk_cannot_hold_is_refused_before_training(tiny_recipe, fixtures, tmp_path, small_disk):
    cfg, _ = _cfg(tiny_recipe, tmp_path, fixtures, stage1={"merge": True})
    with pytest.raises(RankragError, match=r"the merge needs about 0\.5 GiB and .* has 0\.0 GiB free"):
        finetune(cfg, small_disk / "s1")
    assert list(small_disk.iterdir()) == []


@pytest.mark.slow
def test_the_run_takes_the_steps_its_plan_announced(tiny_recipe, fixtures, tmp_path):
    cfg, _ = _cfg(tiny_recipe, tmp_path, fixtures, stage1={"train_examples": 9})
    out = finetune(cfg, tmp_path / "s1")
    plan = json.loads((Path(out) / "plan.json").read_text())
    summary = json.loads((Path(out) / "summary.json").read_text())
    assert summary["global_step"] == plan["steps"] == -(-9 // plan["examples_per_step"])
