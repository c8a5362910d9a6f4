"""Shared CLI helpers: one-line errors, signals and the rich console.

Every failure a user can cause or meet is one ``error: ...`` line on stderr and exit 2: a
:class:`RankragError`, and any OS-level error (a folder where a file was expected, no permission, a
full disk, ...), named by its path and cause. ``Ctrl-C`` / ``SIGTERM`` stop a command with one line
(exit 130 / 143) after its outputs have been cleaned up (``finally`` blocks run).
"""

from __future__ import annotations

import functools
import signal
import sys

import typer
from rankrag_lite.errors import RankragError
from rankrag_lite.progress import console  # noqa: F401  (re-exported for commands)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds the command like ``KeyboardInterrupt`` (``finally`` blocks
    remove half-written outputs) without being taken for one by Typer, which would exit silently."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: what the running command says after an interrupt (``finetune``: how to resume); set by the command
INTERRUPT_HINT: list[str] = []


def on_interrupt(hint: str) -> None:
    """Add ``hint`` to the line printed when this command is interrupted."""
    INTERRUPT_HINT[:] = [hint]


def _raise_interrupted(signum, _frame) -> None:
    # a second signal while the first unwinds: the default action (stop now)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (the CLI's entry point)."""
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)


def interrupted_line(e: Interrupted) -> str:
    name = signal.Signals(e.signum).name
    return " ".join([f"interrupted ({name}): stopped; no output was left half-written.", *INTERRUPT_HINT])


def error_line(e: BaseException) -> str | None:
    """The one line a user sees for ``e``, or ``None`` for a bug (which keeps its traceback)."""
    from rankrag_lite.io import os_error_line

    if isinstance(e, RankragError):
        return str(e)
    if isinstance(e, FileNotFoundError):
        return f"file not found: {e.filename or e}"
    if isinstance(e, OSError):  # every OS-level error on a user's path: the path and the cause
        return os_error_line(e)
    if isinstance(e, UnicodeDecodeError):  # a reader outside rankrag_lite.io (which names file and line)
        return f"an input file is not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8"
    return None


def fail(line: str, code: int = 2):
    typer.secho(f"error: {line}", err=True, fg="red")
    raise typer.Exit(code)


def guard(fn):
    """Turn :class:`RankragError`, an OS-level error and a non-UTF-8 file into ``error: ...`` on
    stderr and exit 2; an interrupt into one line and exit 128 + the signal's number."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Interrupted as e:
            typer.secho(interrupted_line(e), err=True, fg="yellow")
            raise typer.Exit(128 + e.signum) from None
        except (RankragError, OSError, UnicodeDecodeError) as e:
            line = error_line(e)
            if line is None:  # pragma: no cover (error_line knows these types)
                raise
            fail(line)

    return wrapper


def usage_error_line(e) -> str:
    """A click usage error (a missing option, a value out of range) as one line, with where to look."""
    ctx = getattr(e, "ctx", None)
    where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    return f"{e.format_message()}{where}"


def run_app(app, argv: list[str] | None) -> int:
    """Run the Typer ``app`` as the ``rankrag-lite`` command; returns the exit code."""
    install_signal_handlers()
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="rankrag-lite")
        return rv if isinstance(rv, int) else 0
    except typer.TyperException as e:  # click's errors: a usage error, a value out of range, ...
        if type(e).__name__ != "NoArgsIsHelpError":  # (that one has printed the help already)
            typer.secho(f"error: {usage_error_line(e)}", err=True, fg="red")
        return e.exit_code
    except typer.Abort:
        return 1
    except Interrupted as e:  # outside a guarded command (while parsing, importing)
        typer.secho(interrupted_line(e), err=True, fg="yellow")
        return 128 + e.signum
    except (RankragError, OSError, UnicodeDecodeError) as e:  # outside a guarded command
        line = error_line(e)
        if line is None:  # pragma: no cover
            raise
        typer.secho(f"error: {line}", err=True, fg="red")
        return 2
