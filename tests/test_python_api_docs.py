"""The Python examples of docs/python-api.md and of the README's quick start run as written.

Each file's ```python blocks are executed in order in one namespace (a page builds on its earlier
blocks), with the working tree's package; a failing example fails the build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "docs" / "python-api.md", ROOT / "README.md"]

pytestmark = pytest.mark.slow


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(first line number, code)`` of each fenced ```python block."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


def test_the_pages_have_python_examples():
    assert len(python_blocks(PAGES[0])) >= 5
    readme = python_blocks(PAGES[1])
    assert len(readme) == 1 and len(readme[0][1].strip().splitlines()) == 5
    assert "RankRAG.from_pretrained" in readme[0][1] and ".rank(" in readme[0][1] and ".answer(" in readme[0][1]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples_run(page: Path, capsys):
    namespace: dict = {"__name__": "__doc_example__"}
    for line, code in python_blocks(page):
        exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "Shakespeare" in printed  # the examples answer "Who wrote Hamlet?" from the right passage
