"""Progress bars for long work, shared by the CLI, notebooks and the Python API.

``track(iterable, "Scoring", total=n)`` shows a rich bar on stderr; set ``RANKRAG_LITE_QUIET=1``
to silence bars and logs (warnings stay). When stderr is not a terminal (``nohup ... > log``) the
bars become plain lines: ``Scoring: 1200/5000 (24%), 38.1/s, 31s elapsed, about 1m40s left``,
at each 10% done and at least every ``RANKRAG_LITE_PROGRESS_EVERY`` seconds (default 30).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
console = Console(stderr=True)


def quiet() -> bool:
    return os.environ.get("RANKRAG_LITE_QUIET", "") not in ("", "0")


def quiet_libraries() -> None:
    """Under ``RANKRAG_LITE_QUIET``, silence what transformers and huggingface_hub print on their own
    (the weight-loading bar, tokenizer notices), so an error after a model load is still one line.
    Runs when this module is imported (before those libraries are, in the CLI); their errors still
    surface as exceptions."""
    if not quiet():
        return
    import sys

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


quiet_libraries()


def _every() -> float:
    try:
        return max(0.0, float(os.environ.get("RANKRAG_LITE_PROGRESS_EVERY", "30")))
    except ValueError:
        return 30.0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class PlainProgress(Progress):
    """A :class:`rich.progress.Progress` for a stderr that is not a terminal: no bar (rich would
    write it only at the end), plain progress lines as the work goes."""

    def __init__(self, *columns, every: float | None = None, **kwargs):
        kwargs["disable"] = True
        super().__init__(*columns, **kwargs)
        self.every = _every() if every is None else every
        self._last: dict = {}  # task id -> (time of the last line, tenth of the total reached)

    def add_task(self, description, start=True, total=100.0, completed=0, visible=True, **fields):
        task_id = super().add_task(description, start=start, total=total, completed=completed,
                                   visible=visible, **fields)
        self._last[task_id] = (time.monotonic(), self._tenth(task_id))
        return task_id

    def _tenth(self, task_id) -> int:
        task = self._tasks[task_id]
        return int(10 * task.completed / task.total) if task.total else 0

    def _maybe_line(self, task_id, force: bool = False) -> None:
        task = self._tasks.get(task_id)
        if task is None or not task.visible or quiet():
            return
        last_t, last_tenth = self._last.get(task_id, (0.0, 0))
        now, tenth = time.monotonic(), self._tenth(task_id)
        finished = task.total is not None and task.completed >= task.total
        if not (force or now - last_t >= self.every or tenth > last_tenth or (finished and last_tenth < 10)):
            return
        self._last[task_id] = (now, 10 if finished else tenth)
        done = f"{task.completed:,.0f}" + (f"/{task.total:,.0f} ({100 * task.completed / task.total:.0f}%)"
                                          if task.total else "")
        rate = task.finished_speed or task.speed
        parts = [f"{task.description}: {done}", f"{rate:,.1f}/s" if rate else "rate ?",
                 f"{_duration(task.elapsed)} elapsed"]
        if task.total and not finished:
            parts.append(f"about {_duration(task.time_remaining)} left")
        info = task.fields.get("info")
        if info:
            parts.append(str(info))
        console.print(", ".join(parts), markup=False, highlight=False, soft_wrap=True)

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_line(task_id)

    def update(self, task_id, **kwargs) -> None:
        super().update(task_id, **kwargs)
        self._maybe_line(task_id)


def make_progress() -> Progress:
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
    if not console.is_terminal and not quiet():
        return PlainProgress(*columns, console=console)
    return Progress(*columns, console=console, disable=quiet())


def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with make_progress() as p:
        task = p.add_task(description, total=total, info="")
        for item in iterable:
            yield item
            p.advance(task)


def maybe_track(items, description: str, progress: bool, total: int | None = None):
    """``track`` when ``progress`` is on, else the items as they are."""
    return track(items, description, total=total) if progress else items


def log(message: str) -> None:
    if not quiet():
        console.print(message)


def warn(message: str) -> None:
    """A warning on stderr, shown even when ``RANKRAG_LITE_QUIET`` silences logs."""
    console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
