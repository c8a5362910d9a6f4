"""End-to-end fine-tuning on the real SmolLM2-135M (CPU): Stage 1 -> merge -> Stage 2, and --resume;
a second run on a running one's output is refused, a resumed run's loss counts every step, a run
that fails while loading leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_helpers import env, run_cli
from rankrag_lite.cli import app
from rankrag_lite.io import read_jsonl

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_recipe):
    short = {"max_examples": 6, "max_steps": 3, "save_steps": 1}
    return tiny_recipe(tmp_path_factory.mktemp("recipe") / "r.yaml", stage1={**short, "merge": True},
                       stage2={**short, "snapshot_adapters": True})


def _ok(args):
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, (res.output, res.exception)
    return res


@pytest.mark.slow
def test_stage1_then_stage2_lower_the_loss(recipe, fixtures, tmp_path):
    s1 = tmp_path / "s1"
    _ok(["finetune", "--stage", "1", "--recipe", str(recipe), "--data",
         str(fixtures / "sft_chat_40.jsonl"), "--out", str(s1)])
    for name in ("adapter/adapter_config.json", "adapter/tokenizer_config.json", "recipe.yaml",
                 "train_log.jsonl", "loss.png", "summary.json", "merged/config.json"):
        assert (s1 / name).exists(), name
    sum1 = json.loads((s1 / "summary.json").read_text())
    assert sum1["global_step"] == 3
    assert sum1["probe_loss_after"] < sum1["probe_loss_before"]  # loss on the training batch went down
    assert [r["step"] for r in read_jsonl(s1 / "train_log.jsonl")] == [1, 2, 3]
    assert not (tmp_path / ".s1.work").exists()
    merged_cfg = json.loads((s1 / "merged" / "config.json").read_text())
    assert merged_cfg["eos_token_id"] == 2  # <|im_end|>, not the GGUF tokenizer's <|im_start|>
    # trained from the bundled tiny model: the adapter names the alias, not this machine's cache path
    s1_adapter = json.loads((s1 / "adapter" / "adapter_config.json").read_text())
    assert s1_adapter["base_model_name_or_path"] == "smollm2-135m"
    from rankrag_lite.modeling.loading import load_model as _load

    import torch

    # the alias base resolves on load, and adapter-on-base equals the merged model
    from_adapter, tok1 = _load(str(s1 / "adapter"))
    from_merged, _ = _load(str(s1 / "merged"))
    ids = tok1("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        assert (from_adapter(ids).logits - from_merged(ids).logits).abs().max() < 1e-4

    # Stage 2 from the Stage-1 output folder: starts from its merged model
    s2 = tmp_path / "s2"
    _ok(["finetune", "--stage", "2", "--recipe", str(recipe), "--model", str(s1), "--data",
         str(fixtures / "blend_tiny.jsonl"), "--out", str(s2)])
    sum2 = json.loads((s2 / "summary.json").read_text())
    assert Path(sum2["start_model"]).resolve() == (s1 / "merged").resolve()
    adapter_cfg = json.loads((s2 / "adapter" / "adapter_config.json").read_text())
    assert Path(adapter_cfg["base_model_name_or_path"]).resolve() == (s1 / "merged").resolve()
    assert sum2["probe_loss_after"] < sum2["probe_loss_before"]
    # snapshot_adapters: every save's adapter stays, based on the same start model; the last = final
    from safetensors.torch import load_file

    snaps = sorted(p.name for p in (s2 / "snapshots").iterdir())
    assert snaps == ["step-1", "step-2", "step-3"]
    snap_cfg = json.loads((s2 / "snapshots" / "step-1" / "adapter_config.json").read_text())
    assert snap_cfg["base_model_name_or_path"] == adapter_cfg["base_model_name_or_path"]
    final = load_file(str(s2 / "adapter" / "adapter_model.safetensors"))
    last = load_file(str(s2 / "snapshots" / "step-3" / "adapter_model.safetensors"))
    first = load_file(str(s2 / "snapshots" / "step-1" / "adapter_model.safetensors"))
    assert final.keys() == last.keys()
    assert all(torch.equal(final[k], last[k]) for k in final)
    assert any(not torch.equal(first[k], last[k]) for k in final)  # the snapshots differ in time
    # Stage 2 from a bare adapter folder: merged first, and that merge stays as OUT/start-model, the base
    # its adapters name (the work folder it was made in is gone), so they reload like the merged model
    s2b = tmp_path / "s2b"
    _ok(["finetune", "--stage", "2", "--recipe", str(recipe), "--model", str(s1 / "adapter"), "--data",
         str(fixtures / "blend_tiny.jsonl"), "--out", str(s2b), "--max-steps", "1"])
    assert not (tmp_path / ".s2b.work").exists() and (s2b / "start-model" / "config.json").exists()
    sum2b = json.loads((s2b / "summary.json").read_text())
    assert sum2b["start_model"] == str((s2b / "start-model").resolve())
    for folder in (s2b / "adapter", s2b / "snapshots" / "step-1"):
        cfg = json.loads((folder / "adapter_config.json").read_text())
        assert cfg["base_model_name_or_path"] == str((s2b / "start-model").resolve())
    from_snap, _ = _load(str(s2b / "snapshots" / "step-1"))  # one step: the snapshot is the final adapter
    from_adapter_b, _ = _load(str(s2b / "adapter"))
    with torch.no_grad():
        assert (from_snap(ids).logits - from_adapter_b(ids).logits).abs().max() < 1e-5
        assert (from_snap(ids).logits - from_merged(ids).logits).abs().max() > 1e-4  # it trained on top
    # Stage 2's starting loss is the Stage-1 merge's, not the original model's
    import torch

    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.training.data import load_chat_records, tokenize_records
    from rankrag_lite.training.finetune import probe_loss

    rows = tokenize_records(
        load_model(s1 / "merged", device="cpu")[1],
        load_chat_records(fixtures / "blend_tiny.jsonl", 6, 3), 192)[:8]
    m1, _ = load_model(s1 / "merged", device="cpu", dtype=torch.float32)
    assert probe_loss(m1, rows) == pytest.approx(sum2["probe_loss_before"], rel=1e-4)


@pytest.mark.slow
def test_resume_after_kill_continues_from_checkpoint(recipe, fixtures, tmp_path):
    out = tmp_path / "run"
    work = tmp_path / ".run.work"
    args = ["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
            str(fixtures / "blend_tiny.jsonl"), "--out", str(out), "--max-steps", "4"]
    env = dict(os.environ, RANKRAG_LITE_QUIET="1")
    proc = subprocess.Popen([sys.executable, "-m", "rankrag_lite", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    ckpt = work / "checkpoints" / "checkpoint-1" / "trainer_state.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and not ckpt.exists() and proc.poll() is None:
            time.sleep(0.2)
        assert ckpt.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "timeout"
        time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not out.exists()  # an interrupted run leaves nothing that looks complete
    done = sorted(int(p.name.split("-")[1]) for p in (work / "checkpoints").glob("checkpoint-*")
                  if (p / "trainer_state.json").exists())
    assert done and done[-1] < 4

    _ok([*args, "--resume"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"] == f"checkpoint-{done[-1]}"
    assert summary["global_step"] == 4
    steps = [r["step"] for r in read_jsonl(out / "train_log.jsonl")]
    assert steps == [1, 2, 3, 4]
    # snapshots taken before the kill survive the resume; none is missing or half-written
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["step-1", "step-2", "step-3", "step-4"]
    assert not work.exists()


# --- a second finetune on a running one's output, the loss of a resumed run, a failed load ----


@pytest.mark.slow
def test_parallel_finetune_refused_then_resume_after_kill_9(tmp_path, tiny_recipe):
    """Item 1 with the issue's reproduction (a second finetune on a running one's --out), then
    kill -9 of the first (no stale lock), --resume, and item 5: the resumed run's train_loss is the
    mean over all its steps (the log has one loss per step), not this run's sum over all steps."""
    recipe = tiny_recipe(tmp_path / "r.yaml", stage2={"max_examples": 12, "max_steps": 6, "save_steps": 1,
                                                     "logging_steps": 1})
    out = tmp_path / "run"
    args = ["finetune", "--stage", "2", "--recipe", recipe, "--data", FIX / "blend_tiny.jsonl", "--out", out]
    first = subprocess.Popen([sys.executable, "-m", "rankrag_lite", *map(str, args)], env=env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    ckpt = tmp_path / ".run.work" / "checkpoints" / "checkpoint-1" / "trainer_state.json"
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not (tmp_path / ".run.lock").exists() and first.poll() is None:
            time.sleep(0.1)
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        second = run_cli(*args)
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"error: {out} is being written by another run (pid {first.pid}); wait for it to finish or "
            "choose another output"], second.stderr
        while time.time() < deadline and not ckpt.exists() and first.poll() is None:
            time.sleep(0.1)
        assert ckpt.exists(), "no checkpoint"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"] is not None and summary["global_step"] == 6
    losses = [r["loss"] for r in read_jsonl(out / "train_log.jsonl")]
    assert len(losses) == 6
    assert summary["train_loss_steps"] == 6
    assert summary["train_loss"] == pytest.approx(sum(losses) / 6, abs=2e-4)
    # item 6: a finished run is an ordinary folder (the test process runs under the usual umask)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((out / "adapter" / "adapter_config.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((out / "adapter").stat().st_mode) == 0o777 & ~mask

def test_resumed_train_loss_counts_the_steps_before_the_resume():
    from rankrag_lite.training.finetune import train_loss_over_all_steps

    # an uninterrupted run logs 0.8, 0.6, 0.4, 0.2 (mean 0.5); killed after step 2 and resumed,
    # transformers reports (0.4 + 0.2) / 4 = 0.15
    history = [{"loss": 0.8, "step": 1}, {"loss": 0.6, "step": 2}, {"train_runtime": 1.0, "step": 2}]
    assert train_loss_over_all_steps(0.15, 4, 2, history) == (pytest.approx(0.5), 4)
    # logging every 2 steps: the logged loss is the mean over the two steps
    assert train_loss_over_all_steps(0.15, 4, 2, [{"loss": 0.7, "step": 2}]) == (pytest.approx(0.5), 4)
    # checkpoint at 3 with logs at 2: step 3's loss is unknown and left out
    loss, steps = train_loss_over_all_steps(0.05, 4, 3, [{"loss": 0.7, "step": 2}])
    assert steps == 3 and loss == pytest.approx((1.4 + 0.2) / 3)

def test_finetune_failing_while_loading_leaves_no_work_folder(tmp_path):
    from rankrag_lite.training.finetune import finetune
    from rankrag_lite.training.config import stage_config

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama"}))  # no weights, no tokenizer
    rec = {"finetune": {"backend": "hf", "model": str(broken), "stage2": {"max_steps": 1}}}
    cfg = stage_config(rec, 2, data=str(FIX / "blend_tiny.jsonl"))
    with pytest.raises(Exception):
        finetune(cfg, tmp_path / "out", recipe=rec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-model"]
