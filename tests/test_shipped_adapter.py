"""The adapter shipped in the package (trained by recipes/tiny-cpu.yaml) reproduces its recorded
metrics. (How much of its ranking is relevance and how much is passage length: docs/results.md.)

``assets/smollm2-135m-rankrag/metrics.json`` records the metrics of ``rankrag-lite evaluate`` on
``tests/fixtures/inference/twowiki_dev20.jsonl`` (the first 20 questions of the 2Wiki dev distractor
set, 10 passages each); this test runs the same evaluation and compares.
"""

from __future__ import annotations

import json

import pytest

from rankrag_lite.evaluation.datasets import load_eval_set
from rankrag_lite.evaluation.runner import evaluate
from rankrag_lite.modeling.loading import adapter_base_name, load_model, shipped_adapter_dir

ALIAS = "smollm2-135m-rankrag"


def _shipped():
    path = shipped_adapter_dir()
    assert path is not None, "the package ships no adapter in rankrag_lite/assets/smollm2-135m-rankrag"
    return path


def test_shipped_adapter_is_small_complete_and_names_the_tiny_base():
    path = _shipped()
    weights = path / "adapter_model.safetensors"
    assert weights.exists() and weights.stat().st_size <= 25 * 2**20
    assert adapter_base_name(path) == "smollm2-135m"
    for name in ("recipe.yaml", "metrics.json", "train_summary.json", "README.md", "calibration.json"):
        assert (path / name).exists(), name
    # the shipped calibration was fitted for these very weights (else the scorer would refuse it)
    from rankrag_lite.ranking.calibration import for_model

    cal = for_model(ALIAS)
    assert cal is not None and not cal.load_in_4bit and cal.fit["heldout"]["after"]["ece"] < cal.fit["heldout"][
        "before"]["ece"]
    recorded = json.loads((path / "metrics.json").read_text())
    assert recorded["fixture"] == "tests/fixtures/inference/twowiki_dev20.jsonl"


@pytest.mark.slow
def test_shipped_adapter_reproduces_its_metrics(fixtures, tmp_path):
    """Loading by alias (base + adapter, merged for inference), the prompt, the P(True) scorer and the
    metrics together give what was recorded when the adapter was shipped."""
    recorded = json.loads((_shipped() / "metrics.json").read_text())["fixture_metrics"]
    es = load_eval_set(fixtures / "inference" / "twowiki_dev20.jsonl")
    shipped = load_model(ALIAS, device="cpu")
    summary = evaluate(es, tmp_path / "eval", baselines=["random"], models=[ALIAS], answer=False,
                       loaded={ALIAS: shipped}, progress=False)
    got = summary["rankers"][ALIAS]["metrics"]
    for metric in ("Recall@1", "Recall@2", "Recall@5", "MRR@10", "AnswerRecall@5"):
        assert got[metric] == pytest.approx(recorded[ALIAS][metric], abs=1e-3), metric
    assert summary["rankers"]["random"]["metrics"] == pytest.approx(recorded["random"], abs=1e-9)
    # and what was shipped is a model that ranks: far above random on these 20 questions
    rnd = summary["rankers"]["random"]["metrics"]
    assert got["MRR@10"] > rnd["MRR@10"] + 0.2 and got["Recall@2"] > rnd["Recall@2"] + 0.2
