"""The README's "Quick start on a GPU", rehearsed: ``scripts/rehearse_quickstart.sh`` runs its commands
on CPU (stand-ins for the hub names from ``tests/hub_mirror.py``), and its commands are the README's
but for the overrides listed here."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "rehearse_quickstart.sh"
#: what the rehearsal changes in a README command: options appended to it, per subcommand. The model
#: name needs none (the stand-in is served as unsloth/llama-3-8b from an offline hub cache).
OVERRIDES = {"build-blend": ["--size", "16"], "finetune": ["--max-steps", "2"]}
#: the README lines the rehearsal does not run (the kit is installed already; tests/test_gpu_install.py
#: checks the install)
NOT_REHEARSED = [["git", "clone", "https://github.com/OWNER/rankrag-lite.git", "&&", "cd", "rankrag-lite"],
                 ["bash", "scripts/install_gpu.sh"]]


def _commands(text: str) -> list[list[str]]:
    """Shell lines (backslash continuations joined, comments dropped) as argument lists."""
    joined = re.sub(r"\\\n", " ", text)
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def readme_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start on a GPU", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no bash block in the README's quick start"
    return _commands(block.group(1))


def script_commands() -> list[list[str]]:
    text = SCRIPT.read_text(encoding="utf-8")
    body = text.split("# --- README quick start ---\n", 1)[1].split("# --- end of the README quick start ---", 1)[0]
    return _commands(body)


def test_script_runs_the_readme_commands_with_only_the_listed_overrides():
    readme, script = readme_commands(), script_commands()
    assert [c for c in readme if c[0] != "rankrag-lite"] == NOT_REHEARSED
    expected = [c + OVERRIDES.get(c[1], []) for c in readme if c[0] == "rankrag-lite"]
    assert script == expected
    assert [c[1] for c in script] == ["build-blend", "finetune", "finetune", "index", "rag"]


def test_every_path_a_command_reads_was_written_before():
    """--data, --model, --index: an earlier command's --out (or inside it); recipes ship with the kit;
    --corpus / --questions are hub datasets."""
    written: list[str] = []
    for argv in readme_commands():
        if argv[0] != "rankrag-lite":
            continue
        opts = {k: v for k, v in zip(argv, argv[1:]) if k.startswith("--")}
        for key in ("--data", "--model", "--index"):
            if key in opts:
                assert any(opts[key] == w or opts[key].startswith(w + "/") for w in written), (key, opts[key])
        if "--recipe" in opts:
            assert (ROOT / opts["--recipe"]).is_file()
        for key in ("--corpus", "--questions"):
            if key in opts:
                assert not opts[key].startswith(("runs", ".", "/")) and "/" in opts[key]  # a hub name
        written.append(opts["--out"])


@pytest.mark.slow
@pytest.mark.unsloth
@pytest.mark.skipif(importlib.util.find_spec("unsloth") is None, reason="unsloth is not installed")
def test_rehearsal_runs(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "RANKRAG_LITE_QUIET": "1"}
    res = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "rehearsal")], env=env, capture_output=True,
                         text=True, timeout=1500)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-4000:])
    assert "rehearsal: ok" in res.stdout
    assert "runs/s1/merged" in res.stdout and "dtypes ['BF16']" in res.stdout
    clone = tmp_path / "rehearsal" / "clone"
    for path in ("runs/blend/sft.jsonl", "runs/s1/adapter/adapter_config.json", "runs/s2/merged/config.json",
                 "runs/index", "runs/rag/answers.jsonl"):
        assert (clone / path).exists(), path
