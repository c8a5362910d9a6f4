"""rankrag_lite.recipes: a recipe cannot hold more than its file spells out (YAML aliases are refused,
so an alias bomb never expands) and every top-level key is type-checked, with a short error line;
every shipped recipe builds the settings of each section and names its files in a portable form."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path, PurePosixPath

import pytest

from cli_helpers import cli, one_line_error
from rankrag_lite.data.blend import BlendConfig, parse_blend
from rankrag_lite.errors import RankragError
from rankrag_lite.modeling.loading import SHIPPED_ALIASES, TINY_ALIASES
from rankrag_lite.recipes import load_recipe
from rankrag_lite.training.config import StageConfig, stage_config

FIX = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
#: every recipe the kit ships: recipes/ at any depth (recipes/levers/ too) and the shipped adapter's
SHIPPED = sorted((ROOT / "recipes").rglob("*.yaml")) + sorted((ROOT / "rankrag_lite/assets").glob("*/recipe.yaml"))
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name

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


def test_bad_yaml_names_its_line(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("finetune:\n  stage1:\n    lr: [1\n")
    with pytest.raises(RankragError, match=r"r.yaml: not valid YAML \(.* at line \d+, column \d+\)"):
        load_recipe(bad)


def _portable(path: str) -> bool:
    """Relative, in POSIX form: it means the same on every machine (from the data root or the cwd)."""
    return not (PurePosixPath(path).is_absolute() or path.startswith("~") or "\\" in path or ":" in path)


def _model_ok(model: str) -> bool:
    """A name the kit knows, a folder of this repository (relative), or a hub id (owner/name)."""
    if model.lower() in TINY_ALIASES | SHIPPED_ALIASES:
        return True
    if _portable(model) and (ROOT / model).is_dir():
        return True
    return bool(HUB_ID.match(model)) and not Path(model).expanduser().exists()


def test_every_shipped_recipe_is_found():
    found = {str(p.relative_to(ROOT)) for p in SHIPPED}
    assert {"recipes/tiny-cpu.yaml", "recipes/levers/lora-wsd-3rd-pass.yaml",
            "rankrag_lite/assets/smollm2-135m-rankrag/recipe.yaml"} <= found


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_recipe_builds_its_settings_and_names_portable_files(path):
    """More than load_recipe checks: each finetune stage becomes a StageConfig (its __post_init__
    checks the ranges), each blend section a BlendConfig, and every file or model a recipe names is a
    known alias, a relative path or a hub id (no one's home folder, no absolute path)."""
    rec = load_recipe(path)
    assert {"finetune", "blend"} & set(rec), "a recipe with nothing to run"
    if "finetune" in rec:
        for stage in (1, 2):
            cfg = stage_config(rec, stage)
            assert isinstance(cfg, StageConfig) and cfg.stage == stage
            assert dataclasses.replace(cfg) == cfg  # what a recipe resolves to passes StageConfig's own check
            assert _model_ok(cfg.model), (stage, cfg.model)
            assert cfg.data is None or (_portable(cfg.data) and cfg.data.endswith((".jsonl", ".jsonl.gz"))), \
                (stage, cfg.data)
    if "blend" in rec:
        blend = parse_blend(rec)
        assert isinstance(blend, BlendConfig) and blend.mix
        named = [*blend.exclude] + [p for s in blend.sources.values() for p in [s.path, *s.corpus, s.qrels] if p]
        for name in named:  # relative to --data-root, inside it; or a hub dataset (owner/name)
            assert _portable(name) and ".." not in PurePosixPath(name).parts, name
    assert "# inference:" not in path.read_text()  # a stale comment: no such section exists


@pytest.mark.parametrize("section", ["inference", "evaluate"])
def test_a_recipe_section_nothing_reads_is_an_error(tmp_path, section):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: x\nfinetune: {{}}\n{section}:\n  k: 5\n")
    with pytest.raises(RankragError, match=rf"{re.escape(str(recipe))}: unknown recipe key\(s\) \['{section}'\]"):
        load_recipe(recipe)
