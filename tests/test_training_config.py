"""The finetune settings: one dataclass (each key once, with its help text), the resolution order
(option > stage key > shared key > default), one name per knob, strict one-line validation, and
docs/recipes.md equal to ``rankrag-lite recipe-keys``. Nothing here loads a model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError, SettingError
from rankrag_lite.training.config import (SHARED_KEYS, STAGE_KEYS, LoraSettings, StageConfig, describe_keys,
                                          stage_config, trl_arguments)

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_has_one_field_with_a_help_text():
    for cls in (StageConfig, LoraSettings):
        for f in dataclasses.fields(cls):
            assert len(f.metadata["help"]) > 10, f.name
    assert set(SHARED_KEYS) < set(STAGE_KEYS)  # a shared key is a stage key too, not a second field
    assert "share_system_head" in STAGE_KEYS and StageConfig(stage=2).share_system_head is False


def test_resolution_order_option_then_stage_then_shared_then_default():
    rec = {"seed": 9, "finetune": {"max_length": 300, "lora": {"r": 4}, "model": "shared-model",
                                   "stage1": {"max_length": 200, "lr": 1e-4},
                                   "stage2": {"model": None, "batch_size": 2}}}
    s1 = stage_config(rec, 1)
    assert (s1.max_length, s1.lr, s1.lora.r, s1.last_turn_only, s1.seed) == (200, 1e-4, 4, True, 9)
    s2 = stage_config(rec, 2)  # null under a stage: the shared value
    assert (s2.max_length, s2.model, s2.batch_size, s2.last_turn_only) == (300, "shared-model", 2, False)
    assert s2.lr == StageConfig(stage=2).lr  # the default
    s2 = stage_config(rec, 2, max_length=100, model="m", load_in_4bit=None)  # None: not given
    assert (s2.max_length, s2.model, s2.load_in_4bit) == (100, "m", False)
    assert stage_config({"finetune": {"load_in_4bit": True}}, 2, load_in_4bit=False).load_in_4bit is False


def test_one_name_per_knob_in_recipe_options_and_saved_config():
    cfg = stage_config({"finetune": {"stage2": {"lr": 3e-4, "epochs": 2}}}, 2, max_steps=5)
    saved = dataclasses.asdict(cfg)  # what OUT/recipe.yaml records under finetune_run
    assert set(saved) == set(STAGE_KEYS) | {"stage"}
    assert saved["lr"] == 3e-4 and saved["epochs"] == 2 and saved["max_steps"] == 5
    args = trl_arguments(cfg)  # the same values under TRL's names
    assert args["learning_rate"] == 3e-4 and args["num_train_epochs"] == 2 and args["max_steps"] == 5
    assert args["lr_scheduler_kwargs"] == {}  # a fresh dict per config, passed as it is
    wsd = stage_config({"finetune": {"stage2": {"scheduler": "warmup_stable_decay",
                                                "scheduler_kwargs": {"num_decay_steps": 6}}}}, 2)
    assert trl_arguments(wsd)["lr_scheduler_kwargs"] == {"num_decay_steps": 6}
    assert trl_arguments(wsd)["lr_scheduler_type"] == "warmup_stable_decay"
    with pytest.raises(RankragError, match="'learning_rate' is TRL's name: the recipe key is 'lr'"):
        stage_config({"finetune": {"stage1": {"learning_rate": 1e-4}}}, 1)
    with pytest.raises(RankragError, match="'num_train_epochs' is TRL's name: the recipe key is 'epochs'"):
        stage_config({"finetune": {"stage2": {"num_train_epochs": 1}}}, 1)


@pytest.mark.parametrize("recipe, stage, options, message", [
    ({"stage1": {"lrr": 1}}, 1, {}, "finetune.stage1: unknown key(s) ['lrr']"),
    ({"stage2": {"lrr": 1}}, 1, {}, "finetune.stage2: unknown key(s) ['lrr']"),  # both stages checked
    ({"lr": 1e-4}, 1, {}, "'lr' is a stage key: set it under stage1 / stage2"),
    ({"max_length": "big"}, 1, {}, "finetune.max_length: expected int, got str ('big')"),
    ({"stage2": {"batch_size": 0}}, 2, {}, "finetune.stage2.batch_size must be >= 1, got 0"),
    ({"stage2": {"warmup_ratio": 3}}, 2, {}, "finetune.stage2.warmup_ratio must be in [0, 1), got 3"),
    ({"lora": {"r": 0}}, 2, {}, "finetune.lora.r must be >= 1, got 0"),
    ({"stage2": {"scheduler_kwargs": 60}}, 2, {}, "finetune.stage2.scheduler_kwargs: expected dict"),
    ({"stage2": {"scheduler": "warmup_stable_decay"}}, 2, {}, "warmup_stable_decay needs decay_ratio"),
    ({"stage2": {"decay_ratio": 1.5}}, 2, {}, "finetune.stage2.decay_ratio must be in [0, 1), got 1.5"),
    ({"stage2": [1]}, 2, {}, "finetune.stage2: expected a mapping, got list"),
    ({}, 2, {"method": "half"}, "--method: expected lora or full, got str ('half')"),
    ({}, 2, {"backend": "tpu"}, "--backend: expected auto, hf or unsloth"),
    ({}, 2, {"max_steps": 0}, "--max-steps must be -1 or >= 1, got 0"),
    ({"method": "full", "load_in_4bit": True}, 2, {}, "drop finetune.load_in_4bit"),
    ({"method": "full", "load_in_4bit": False}, 2, {"load_in_4bit": True}, "drop --load-in-4bit"),
    ({"stage2": {"lora": {"dropout": 1}}}, 2, {}, "finetune.stage2.lora.dropout must be in [0, 1), got 1"),
    ({"method": "full", "stage2": {"snapshot_adapters": True}}, 2, {},
     "finetune.stage2.snapshot_adapters keeps LoRA adapters"),
])
def test_bad_settings_are_one_line_errors_naming_where(recipe, stage, options, message):
    with pytest.raises(RankragError) as info:
        stage_config({"finetune": recipe}, stage, **options)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("build, message", [
    (lambda: StageConfig(stage=2, batch_size=0), "batch_size must be >= 1, got 0"),
    (lambda: dataclasses.replace(StageConfig(stage=2), lr=-1.0), "lr must be > 0, got -1.0"),
    (lambda: dataclasses.replace(StageConfig(stage=1), max_steps=0), "max_steps must be -1 or >= 1, got 0"),
    (lambda: dataclasses.replace(StageConfig(stage=2), warmup_ratio=1), "warmup_ratio must be in [0, 1), got 1"),
    (lambda: StageConfig(stage=3), "stage must be 1 or 2, got 3"),
    (lambda: LoraSettings(r=0), "r must be >= 1, got 0"),
    (lambda: dataclasses.replace(LoraSettings(), target_modules=[]), "target_modules must be a non-empty list, got []"),
    (lambda: StageConfig(stage=2, lora={"alpha": 0}), "lora.alpha must be > 0, got 0"),
    (lambda: StageConfig(stage=2, lr="fast"), "lr: expected float, got str ('fast')"),
    (lambda: StageConfig(stage=2, backend="tpu"), "backend: expected auto, hf or unsloth, got str ('tpu')"),
    (lambda: StageConfig(stage=2, method="full", load_in_4bit=True),
     "full fine-tuning trains 16/32-bit weights: drop load_in_4bit (QLoRA is method lora)"),
    (lambda: dataclasses.replace(StageConfig(stage=2), scheduler="warmup_stable_decay"),
     "scheduler: warmup_stable_decay needs decay_ratio (the fraction of the steps in the final decay) or "
     "scheduler_kwargs.num_decay_steps"),
])
def test_a_config_built_in_python_checks_itself(build, message):
    """Built or replaced in a notebook, not read from a recipe: the same one-line error, named by the
    field (__post_init__, as TRL's configs)."""
    with pytest.raises(SettingError) as info:
        build()
    assert str(info.value) == message


def test_a_field_set_after_construction_is_checked_before_finetune_runs(tmp_path):
    from rankrag_lite.training.finetune import finetune

    cfg = stage_config({"finetune": {}}, 2, data=str(Path(__file__).parent / "fixtures" / "sft_chat_40.jsonl"))
    cfg.lora = {"r": 8}  # a mapping is built into LoraSettings
    cfg.validate()
    assert cfg.lora == LoraSettings(r=8)
    cfg.batch_size = 0
    with pytest.raises(SettingError, match=r"^batch_size must be >= 1, got 0$"):
        finetune(cfg, tmp_path / "out", dry_run=True)
    assert list(tmp_path.iterdir()) == []


def test_api_misuse_of_stage_config_is_a_type_error():
    with pytest.raises(TypeError, match="lrr"):
        stage_config({"finetune": {}}, 2, lrr=1)
    from rankrag_lite.training.finetune import finetune

    with pytest.raises(TypeError, match="StageConfig"):
        finetune({"stage": 2}, "out")


def test_a_bad_top_level_seed_is_a_one_line_error():
    with pytest.raises(RankragError, match=r"seed: expected int, got str \('x'\)"):
        stage_config({"seed": "x", "finetune": {}}, 2)


def test_docs_recipes_md_is_the_recipe_keys_listing():
    res = CliRunner().invoke(app, ["recipe-keys"])
    assert res.exit_code == 0, res.output
    assert res.output == describe_keys()
    page = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    table = page.split("<!-- recipe-keys: begin -->\n")[1].split("<!-- recipe-keys: end -->")[0]
    assert table == describe_keys(), "docs/recipes.md is stale: paste `rankrag-lite recipe-keys` into it"
    for key in STAGE_KEYS:
        assert f"| `{key}` |" in table


def test_the_run_record_uses_the_recipe_keys(tmp_path):
    """finetune writes asdict(cfg) as finetune_run: reading it back gives a stage section."""
    cfg = stage_config({"finetune": {"stage2": {"lr": 3e-4}}}, 2, data="d.jsonl")
    record = yaml.safe_load(yaml.safe_dump({"finetune_run": dataclasses.asdict(cfg)}))["finetune_run"]
    record.pop("stage")
    again = stage_config({"finetune": {"stage2": record}}, 2)
    assert dataclasses.asdict(again) == dataclasses.asdict(cfg)


def test_scheduler_kwargs_are_checked_against_the_schedule_with_the_recipe(tmp_path):
    """An unknown key was a TypeError from transformers once the model had loaded (issue 21)."""
    bad = {"finetune": {"stage2": {"scheduler": "cosine", "scheduler_kwargs": {"min_lr_ratio": 0.1}}}}
    with pytest.raises(RankragError, match=r"finetune.stage2.scheduler_kwargs: the cosine schedule takes no "
                                           r"\['min_lr_ratio'\]; its arguments: \['num_cycles', 'last_epoch'\]"):
        stage_config(bad, 2)
    trainer_given = {"finetune": {"stage2": {"scheduler": "linear", "scheduler_kwargs": {"num_training_steps": 5}}}}
    with pytest.raises(RankragError, match=r"finetune.stage2.scheduler_kwargs: the linear schedule takes no"):
        stage_config(trainer_given, 2)
    good = {"finetune": {"stage2": {"scheduler": "cosine_with_min_lr", "scheduler_kwargs": {"min_lr_rate": 0.1}}}}
    assert stage_config(good, 2).scheduler_kwargs == {"min_lr_rate": 0.1}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(bad))
    res = CliRunner().invoke(app, ["finetune", "--stage", "2", "--recipe", str(path), "--data", "x.jsonl",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and res.output.strip().splitlines() == [
        "error: finetune.stage2.scheduler_kwargs: the cosine schedule takes no ['min_lr_ratio']; its arguments: "
        "['num_cycles', 'last_epoch']"], res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]
