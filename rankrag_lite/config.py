"""Recipe files (YAML): loading and strict validation into dataclasses.

A recipe has top-level sections, each validated by the module that owns it:
``blend`` (rankrag_lite.data.blend) and ``finetune`` (rankrag_lite.training), besides ``name``,
``description`` and ``seed``. Unknown keys (at the top level too) and wrong types are one-line
errors naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from rankrag_lite.errors import RankragError

#: what a recipe may hold: only sections some module reads (inference and evaluation settings are
#: command-line options, not recipe sections)
TOP_LEVEL_KEYS = {"name", "description", "seed", "blend", "finetune"}


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise RankragError(f"recipe not found: {path}")
    try:
        from rankrag_lite.io import read_text

        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as e:
        raise RankragError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise RankragError(f"{path}: a recipe is a mapping of sections")
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise RankragError(
            f"{path}: unknown recipe key(s) {sorted(unknown)}; expected some of {sorted(TOP_LEVEL_KEYS)}"
        )
    return data


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


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def from_dict(cls, data: dict | None, where: str):
    """Build dataclass ``cls`` from ``data``: unknown keys, missing keys, wrong types -> RankragError.

    Nested dataclasses (and lists of them) are built recursively.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RankragError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise RankragError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(fields)}")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RankragError(f"{where}: missing required key '{name}'")
            continue
        value, tp = data[name], hints[name]
        sub = _dataclass_of(tp)
        if sub is not None and isinstance(value, dict):
            value = from_dict(sub, value, f"{where}.{name}")
        elif typing.get_origin(tp) is list and _dataclass_of(typing.get_args(tp)[0]) is not None:
            if not isinstance(value, list):
                raise RankragError(f"{where}.{name}: expected a list")
            inner = _dataclass_of(typing.get_args(tp)[0])
            value = [from_dict(inner, v, f"{where}.{name}[{i}]") for i, v in enumerate(value)]
        elif typing.get_origin(tp) is dict and typing.get_args(tp) and _dataclass_of(typing.get_args(tp)[1]):
            if not isinstance(value, dict):
                raise RankragError(f"{where}.{name}: expected a mapping")
            inner = _dataclass_of(typing.get_args(tp)[1])
            value = {k: from_dict(inner, v, f"{where}.{name}.{k}") for k, v in value.items()}
        elif not _type_ok(value, tp):
            raise RankragError(
                f"{where}.{name}: expected {_type_name(tp)}, got {type(value).__name__} ({value!r})"
            )
        kwargs[name] = value
    return cls(**kwargs)


def _dataclass_of(tp):
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for a in typing.get_args(tp):
            if dataclasses.is_dataclass(a):
                return a
    return None

