"""Recipe files (YAML): loading and strict validation into dataclasses.

A recipe has top-level sections, each validated by the module that owns it:
``blend`` (rankrag_lite.data.blend) and ``finetune`` (rankrag_lite.training), besides ``name``,
``description`` and ``seed``. Unknown keys (at the top level too) and wrong types are one-line
errors naming the key; YAML aliases (``*name``) are refused, so what a recipe holds is never more
than what its file spells out.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from rankrag_lite.errors import RankragError, SettingError

#: what a recipe may hold: only sections some module reads (inference and evaluation settings are
#: command-line options, not recipe sections)
TOP_LEVEL_KEYS = {"name", "description", "seed", "blend", "finetune"}


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise RankragError(f"recipe not found: {path}")
    from rankrag_lite.io import read_text

    loader = _RecipeLoader(read_text(path))
    try:
        data = loader.get_single_data()
    except _AliasInRecipe as e:
        raise RankragError(f"{path}: YAML aliases are not allowed in a recipe (*{e.event.anchor} at line "
                           f"{e.event.start_mark.line + 1}): write the value out where it is used") from None
    except yaml.YAMLError as e:  # bad input: the message says all (where, what), no traceback
        raise RankragError(f"{path}: not valid YAML ({_yaml_problem(e)})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise RankragError(f"{path}: a recipe is a mapping of sections")
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise RankragError(
            f"{path}: unknown recipe key(s) {sorted(unknown, key=str)}; expected some of {sorted(TOP_LEVEL_KEYS)}"
        )
    for key, tp in TOP_LEVEL_TYPES.items():
        if key in data:
            check_value(data[key], tp, f"{path}: {key}")
    return data


#: the types of the top-level keys that are not sections (a section is checked by its module)
TOP_LEVEL_TYPES = {"name": str | None, "description": str | None, "seed": int | None}


class _AliasInRecipe(Exception):
    def __init__(self, event):
        super().__init__(event.anchor)
        self.event = event


class _RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: ``*name`` (and ``<<: *name``) is refused where it is
    met, so a small recipe cannot expand into a huge one (a "billion laughs" file) whose values the
    kit would then write out (``manifest.json``, ``OUT/recipe.yaml``). Anchors alone are harmless."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasInRecipe(self.peek_event())
        return super().compose_node(parent, index)


def _yaml_problem(e: yaml.YAMLError) -> str:
    """One line: PyYAML's problem and where (its ``str`` spreads them over several lines)."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None)
    if mark is not None and problem:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return (str(e).splitlines() or [type(e).__name__])[0]


def section(recipe: dict, name: str, required: bool = True) -> dict:
    value = recipe.get(name)
    if value is None:
        if required:
            raise RankragError(f"recipe has no '{name}' section")
        return {}
    if not isinstance(value, dict):
        raise RankragError(f"recipe section '{name}' must be a mapping")
    return value


def _type_ok(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (arg,) = typing.get_args(tp) or (Any,)
        return isinstance(value, list) and all(_type_ok(v, arg) for v in value)
    if origin is dict:
        args = typing.get_args(tp) or (Any, Any)
        return isinstance(value, dict) and all(_type_ok(v, args[1]) for v in value.values())
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def type_name(tp) -> str:
    """``int``, ``str | None``, ``lora or full`` (a Literal lists its values)."""
    if typing.get_origin(tp) is typing.Literal:
        values = [str(v) for v in typing.get_args(tp)]
        return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    if typing.get_origin(tp) is list and typing.get_args(tp):
        return f"list of {type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def from_dict(cls, data: dict | None, where: str):
    """Build dataclass ``cls`` from ``data``: unknown keys, missing keys, wrong types -> RankragError.

    Nested dataclasses (and lists of them) are built recursively. A value the class itself refuses
    (a :class:`~rankrag_lite.errors.SettingError` from its ``__post_init__``) is named ``where.key``.
    """
    values = check_fields(cls, data, where)
    for f in dataclasses.fields(cls):
        if (f.name not in values and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING):
            raise RankragError(f"{where}: missing required key '{f.name}'")
    try:
        return cls(**values)
    except SettingError as e:  # checked by the class itself: named by its place in the recipe
        raise e.named(f"{where}.{e.key}") from None


def check_fields(cls, data: dict | None, where: str, keys=None, hint=None, others=()) -> dict:
    """Check a (partial) mapping against the fields of dataclass ``cls`` and return its values,
    nested dataclasses built: a key that is no field (or not in ``keys``, when given) and a value of
    the wrong type are one-line RankragErrors naming ``where.key``. ``hint(key)`` may add a sentence
    to the unknown-key error (e.g. where that key belongs); ``others``: keys the caller handles
    (named among the allowed ones, left out of the result)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RankragError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls) if keys is None or f.name in keys]
    unknown = sorted(set(data) - set(allowed) - set(others), key=str)
    if unknown:
        extra = " ".join(filter(None, (hint(k) for k in unknown))) if hint else ""
        raise RankragError(f"{where}: unknown key(s) {unknown}; allowed: {sorted([*allowed, *others])}"
                           + (f" ({extra})" if extra else ""))
    return {name: check_value(value, hints[name], f"{where}.{name}") for name, value in data.items()
            if name not in others}


def check_value(value, tp, where: str):
    """``value`` checked against type ``tp`` (nested dataclasses built); RankragError naming ``where``."""
    sub = _dataclass_of(tp)
    if sub is not None and isinstance(value, dict):
        return from_dict(sub, value, where)
    if typing.get_origin(tp) is list and _dataclass_of(typing.get_args(tp)[0]) is not None:
        if not isinstance(value, list):
            raise RankragError(f"{where}: expected a list")
        inner = _dataclass_of(typing.get_args(tp)[0])
        return [from_dict(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if typing.get_origin(tp) is dict and typing.get_args(tp) and _dataclass_of(typing.get_args(tp)[1]):
        if not isinstance(value, dict):
            raise RankragError(f"{where}: expected a mapping")
        inner = _dataclass_of(typing.get_args(tp)[1])
        return {k: from_dict(inner, v, f"{where}.{k}") for k, v in value.items()}
    if not _type_ok(value, tp):
        raise RankragError(f"{where}: expected {type_name(tp)}, got {type(value).__name__} ({short_repr(value)})")
    return value


def short_repr(value, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error line stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def _dataclass_of(tp):
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for a in typing.get_args(tp):
            if dataclasses.is_dataclass(a):
                return a
    return None

