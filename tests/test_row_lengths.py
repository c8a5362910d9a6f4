"""scripts/row_lengths.py: per-part token lengths of a blend as finetune tokenizes it, and the share of
rows a max_length keeps (whole, and with their answer)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # ~30 s on the shared 2-core machine (transformers import, 30 rows tokenized twice)
def test_row_lengths_on_the_tiny_blend(tiny_model_path, tmp_path):
    from transformers import AutoTokenizer

    from rankrag_lite.modeling.chat import tokenize_chat

    spec = importlib.util.spec_from_file_location("row_lengths", ROOT / "scripts" / "row_lengths.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    blend = ROOT / "tests" / "fixtures" / "blend_tiny.jsonl"
    res = mod.measure(str(blend), tiny_model_path, [64, 10**6], limit=30)
    rows = [json.loads(line) for line in blend.read_text().splitlines()][:30]
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    for part, r in res.items():
        ns = sorted(len(tokenize_chat(tok, x["messages"])["input_ids"]) for x in rows if x["part"] == part)
        assert r["rows"] == len(ns) and r["max"] == ns[-1] and r["p50"] == ns[len(ns) // 2]
        assert r["whole"][10**6] == r["answer_kept"][10**6] == 1.0
        assert r["whole"][64] == round(sum(n <= 64 for n in ns) / len(ns), 3) <= r["answer_kept"][64]
    assert any(r["answer_kept"][64] < 1.0 for r in res.values())  # 64 tokens cut some answers off
