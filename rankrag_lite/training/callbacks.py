"""Trainer callbacks: a rich progress bar with the loss, ``train_log.jsonl``, adapter snapshots; the
loss-curve PNG."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from transformers import TrainerCallback

from rankrag_lite.io import iter_jsonl
from rankrag_lite.progress import make_progress

LOG_KEYS = ("loss", "learning_rate", "grad_norm", "epoch", "num_tokens", "mean_token_accuracy")


class ProgressCallback(TrainerCallback):
    """One bar over the optimizer steps; shows the last loss."""

    def __init__(self, description: str):
        self.description = description
        self.progress = None
        self.task = None
        self.last_loss = None

    def on_train_begin(self, args, state, control, **kw):
        self.progress = make_progress()
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=state.max_steps, info="")
        self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.last_loss = logs["loss"]

    def on_step_end(self, args, state, control, **kw):
        if self.progress is not None:
            info = f"loss {self.last_loss:.4f}" if self.last_loss is not None else ""
            self.progress.update(self.task, completed=state.global_step, info=info)

    def on_train_end(self, args, state, control, **kw):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class JsonlLogCallback(TrainerCallback):
    """Appends ``{step, loss, learning_rate, ...}`` per logging step to ``path``.

    On resume, entries past the checkpoint's step (written after it, then lost) are dropped first.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.t0 = None

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = time.time()
        if self.path.exists():
            keep = [r for r in iter_jsonl(self.path) if r.get("step", 0) <= state.global_step]
            with open(self.path, "w", encoding="utf-8") as f:
                for r in keep:
                    f.write(json.dumps(r) + "\n")

    def on_log(self, args, state, control, logs=None, **kw):
        if not logs or "loss" not in logs:
            return
        rec = {"step": state.global_step}
        rec.update({k: logs[k] for k in LOG_KEYS if k in logs})
        rec["elapsed_s"] = round(time.time() - self.t0, 3)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())


class AdapterSnapshotCallback(TrainerCallback):
    """Copies the adapter of every saved checkpoint to ``root/step-N`` (weights and config only).

    Checkpoints rotate (``save_total_limit``); the snapshots stay, so a finished run can be evaluated
    at each save for a learning curve. Each copy appears whole or not at all.
    """

    FILES = ("adapter_model.safetensors", "adapter_config.json")

    def __init__(self, root: Path):
        self.root = Path(root)

    def on_train_begin(self, args, state, control, **kw):
        # on --resume: checkpoints saved before a kill that cut their snapshot short
        for ckpt in Path(args.output_dir).glob("checkpoint-*"):
            if (ckpt / "trainer_state.json").exists():
                saved = json.loads((ckpt / "trainer_state.json").read_text())
                self._copy(ckpt, saved.get("global_step"), saved.get("epoch"))

    def on_save(self, args, state, control, **kw):
        self._copy(Path(args.output_dir) / f"checkpoint-{state.global_step}", state.global_step, state.epoch)

    def _copy(self, src: Path, step, epoch) -> None:
        if step is None:
            return
        dest = self.root / f"step-{step}"
        if dest.exists() or not all((src / f).exists() for f in self.FILES):
            return
        tmp = self.root / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for f in self.FILES:
            shutil.copy2(src / f, tmp / f)
        (tmp / "step.json").write_text(json.dumps({"step": step, "epoch": epoch}))
        os.replace(tmp, dest)


def plot_loss(log_path: Path, png_path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in iter_jsonl(log_path) if "loss" in r] if Path(log_path).exists() else []
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if rows:
        steps, losses = [r["step"] for r in rows], [r["loss"] for r in rows]
        many = len(rows) >= 50
        ax.plot(steps, losses, marker=None if many else ".", alpha=0.35 if many else 1.0, label="per step")
        if many:  # per-step losses jump with the mix of each batch: show the trend too
            w = max(5, len(rows) // 20)
            trend = [sum(losses[max(0, i - w + 1): i + 1]) / len(losses[max(0, i - w + 1): i + 1])
                     for i in range(len(losses))]
            ax.plot(steps, trend, color="C1", label=f"mean of the last {w}")
            ax.legend(fontsize=8)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (assistant tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
