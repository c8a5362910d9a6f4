"""Shared CLI helpers: one-line errors and the rich console."""

from __future__ import annotations

import functools

import typer
from rankrag_lite.errors import RankragError
from rankrag_lite.progress import console  # noqa: F401  (re-exported for commands)


def guard(fn):
    """Turn :class:`RankragError` (and a missing file, a non-UTF-8 file) into ``error: ...`` on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RankragError as e:
            typer.secho(f"error: {e}", err=True, fg="red")
            raise typer.Exit(2) from None
        except FileNotFoundError as e:
            typer.secho(f"error: file not found: {e.filename or e}", err=True, fg="red")
            raise typer.Exit(2) from None
        except UnicodeDecodeError as e:  # a reader outside rankrag_lite.io (which names file and line)
            typer.secho(f"error: an input file is not UTF-8 text ({e.reason} at byte {e.start}); "
                        "re-save it as UTF-8", err=True, fg="red")
            raise typer.Exit(2) from None

    return wrapper
