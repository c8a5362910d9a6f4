"""rankrag_lite.modeling.unsloth_loader without Unsloth's training run (tests/test_training_unsloth.py
has that): an import failure is one line that keeps its cause."""

from __future__ import annotations

import sys

import pytest

from rankrag_lite.errors import RankragError


def test_unsloth_import_failure_keeps_its_cause(monkeypatch):
    from rankrag_lite.modeling import unsloth_loader

    monkeypatch.setattr(unsloth_loader, "unsloth_installed", lambda: True)
    monkeypatch.setitem(sys.modules, "unsloth", None)  # "import unsloth" raises ImportError
    with pytest.raises(RankragError, match="cannot import unsloth") as info:
        unsloth_loader.import_unsloth()
    assert isinstance(info.value.__cause__, ImportError)
    assert "\n" not in str(info.value)
