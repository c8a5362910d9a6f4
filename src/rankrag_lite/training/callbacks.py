"""Trainer callbacks: a rich progress bar with the loss, and ``train_log.jsonl``; the loss-curve PNG."""

from __future__ import annotations

import json
import os
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

    def __init__(self, path: Path, tokens_per_step: float | None = None):
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


def plot_loss(log_path: Path, png_path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in iter_jsonl(log_path) if "loss" in r] if Path(log_path).exists() else []
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if rows:
        ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], marker="." if len(rows) < 50 else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (assistant tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
