"""rankrag_lite.config: a recipe cannot hold more than its file spells out (YAML aliases are refused,
so an alias bomb never expands) and every top-level key is type-checked, with a short error line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_helpers import cli, one_line_error
from rankrag_lite.config import load_recipe
from rankrag_lite.errors import RankragError

FIX = Path(__file__).parent / "fixtures"

#: 9 levels of 9 aliases under ``name``: 9**9 strings once expanded (in issue 21 a 558-byte recipe
#: like it gave a 13 MB manifest.json)
BOMB = "name:\n  - &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))


def bomb_recipe(tmp_path: Path) -> Path:
    """The smoke recipe (a real blend and finetune-able recipe) with the bomb as its name."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + (FIX / "smoke-recipe.yaml").read_text().replace("name: smoke\n", ""))
    return path


def test_aliases_are_refused_before_anything_expands(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(BOMB)
    with pytest.raises(RankragError, match=r"YAML aliases are not allowed in a recipe \(\*a0 at line 3\)"):
        load_recipe(path)
    merge_key = tmp_path / "m.yaml"
    merge_key.write_text("finetune: &ft {model: smollm2-135m}\nblend: {<<: *ft}\n")
    with pytest.raises(RankragError, match=r"\*ft at line 2"):
        load_recipe(merge_key)
    anchor_only = tmp_path / "a.yaml"
    anchor_only.write_text("name: &n smoke\nseed: 3\n")
    assert load_recipe(anchor_only) == {"name": "smoke", "seed": 3}


@pytest.mark.parametrize("command", ["build-blend", "finetune"])
def test_an_alias_bomb_writes_nothing(command, tmp_path):
    recipe = bomb_recipe(tmp_path)
    assert recipe.stat().st_size < 2000
    out = tmp_path / "out"
    args = {"build-blend": ["build-blend", "--recipe", recipe, "--data-root", FIX / "blend_data", "--out", out],
            "finetune": ["finetune", "--stage", "1", "--recipe", recipe, "--data", FIX / "sft_chat_40.jsonl",
                         "--out", out]}[command]
    line = one_line_error(cli(*args), str(recipe), "YAML aliases are not allowed")
    assert len(line) < 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml"]


@pytest.mark.parametrize("text, needle", [
    ("name: 5\n", "name: expected str | null, got int (5)"),
    ("name: [a, b]\n", "name: expected str | null, got list"),
    ("description: {a: 1}\n", "description: expected str | null, got dict"),
    ("seed: three\n", "seed: expected int | null, got str ('three')"),
    ("seed: true\n", "seed: expected int | null, got bool"),
])
def test_top_level_keys_are_type_checked(tmp_path, text, needle):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RankragError, match=f"{path}: ") as e:
        load_recipe(path)
    assert needle in str(e.value)


def test_a_long_wrong_value_gives_a_short_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: [" + ", ".join(["word"] * 20000) + "]\n")
    with pytest.raises(RankragError) as e:
        load_recipe(path)
    assert len(str(e.value)) < len(str(path)) + 150, str(e.value)


@pytest.mark.parametrize("section", ["inference", "evaluate"])
def test_a_recipe_section_nothing_reads_is_an_error(tmp_path, section):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: x\nfinetune: {{}}\n{section}:\n  k: 5\n")
    with pytest.raises(RankragError, match=rf"{re.escape(str(recipe))}: unknown recipe key\(s\) \['{section}'\]"):
        load_recipe(recipe)
