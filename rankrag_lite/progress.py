"""Progress bars for long work, shared by the CLI, notebooks and the Python API.

``track(iterable, "Scoring", total=n)`` shows a rich bar on stderr; set ``RANKRAG_LITE_QUIET=1``
to silence bars (logs stay).
"""

from __future__ import annotations

import os
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


def make_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet(),
    )


def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with make_progress() as p:
        task = p.add_task(description, total=total, info="")
        for item in iterable:
            yield item
            p.advance(task)


def log(message: str) -> None:
    if not quiet():
        console.print(message)
