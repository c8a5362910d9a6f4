"""Helpers for tests that run the CLI (not a test module): in process (typer's CliRunner) or as a
real process (``python -m rankrag_lite``, this checkout first on the path), the one-line check, and a
real process that holds an output's lock (:class:`Holder`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from rankrag_lite.cli import app

ROOT = Path(__file__).resolve().parent.parent


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(res, *needles: str) -> str:
    """The result is exit 2 with exactly one ``error: ...`` line (no traceback) containing needles."""
    out = res.output.strip()
    assert res.exit_code == 2, (res.exit_code, out, res.exception)
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in out, out
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def env(**extra) -> dict:
    e = dict(os.environ, PYTHONPATH=str(ROOT), RANKRAG_LITE_QUIET="1", OMP_NUM_THREADS="1")
    e.update(extra)
    return e


def cli_argv(*args) -> list[str]:
    return [sys.executable, "-m", "rankrag_lite", *map(str, args)]


def run_cli(*args, timeout=300, **extra):
    return subprocess.run(cli_argv(*args), env=env(**extra), capture_output=True, text=True, timeout=timeout)


def fill(disk: Path, leave: int = 8 << 10) -> None:
    """Fill ``disk`` (the ``small_disk`` fixture's tmpfs) but ``leave`` bytes."""
    st = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - leave))


HOLDER = textwrap.dedent("""
    import sys, time
    from rankrag_lite.io import output_lock
    with output_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
""")


class Holder:
    """A real process that owns an output (as a running command would) until it is killed."""

    def __init__(self, out: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], env=env(),
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"
        self.pid = self.proc.pid

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
