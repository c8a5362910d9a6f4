"""Small fixes of issue 13: strict recipe top level, the unsloth import error keeps its cause,
messages name only Makefile targets that exist."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from rankrag_lite.recipes import load_recipe
from rankrag_lite.errors import RankragError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("section", ["inference", "evaluate"])
def test_a_recipe_section_nothing_reads_is_an_error(tmp_path, section):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: x\nfinetune: {{}}\n{section}:\n  k: 5\n")
    with pytest.raises(RankragError, match=rf"{re.escape(str(recipe))}: unknown recipe key\(s\) \['{section}'\]"):
        load_recipe(recipe)


def test_unsloth_import_failure_keeps_its_cause(monkeypatch):
    from rankrag_lite.modeling import unsloth_loader

    monkeypatch.setattr(unsloth_loader, "unsloth_installed", lambda: True)
    monkeypatch.setitem(sys.modules, "unsloth", None)  # "import unsloth" raises ImportError
    with pytest.raises(RankragError, match="cannot import unsloth") as info:
        unsloth_loader.import_unsloth()
    assert isinstance(info.value.__cause__, ImportError)
    assert "\n" not in str(info.value)


def test_messages_name_existing_make_targets():
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    for path in (ROOT / "rankrag_lite").rglob("*.py"):
        for name in re.findall(r"make ([a-z][\w-]*)", path.read_text(encoding="utf-8")):
            assert name in targets, f"{path.relative_to(ROOT)} names 'make {name}', not in the Makefile"
