"""The three Colab notebooks run top to bottom on CPU in smoke mode (tiny model, local data, few steps).

Executed with papermill (parameters injected after the cell tagged ``parameters``), with the repository
root as working directory, exactly as a user runs them; a broken notebook fails the build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

pytestmark = pytest.mark.slow


def run_notebook(name: str, params: dict, tmp_path: Path) -> dict:
    import papermill as pm

    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=params, cwd=str(ROOT),
                        kernel_name="python3", progress_bar=False, log_output=False)
    return json.loads(out.read_text())


def outputs_text(nb: dict) -> str:
    chunks = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if "text" in o:
                chunks.append("".join(o["text"]))
            elif "data" in o and "text/plain" in o["data"]:
                chunks.append("".join(o["data"]["text/plain"]))
    return "\n".join(chunks)


def has_image(nb: dict) -> bool:
    return any("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


def test_every_notebook_has_a_parameters_cell():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        assert "SMOKE" in "".join(tagged[0]["source"])


def test_01_build_blend(tmp_path):
    out = tmp_path / "blend"
    nb = run_notebook("01_build_blend", {
        "SMOKE": True, "RECIPE": "tests/fixtures/smoke-recipe.yaml",
        "DATA_ROOT": "tests/fixtures/blend_data", "OUT": str(out)}, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["blend"]["count"] == 120
    assert set(manifest["parts"]) == {"sft", "context_qa", "ra_qa", "ranking", "ra_ranking"}
    text = outputs_text(nb)
    assert "===== ranking" in text and "access whether the passage is relevant" in text
    assert has_image(nb)


def test_02_finetune(tmp_path, tiny_model_path):
    out = tmp_path / "ft"
    nb = run_notebook("02_finetune_unsloth", {
        "SMOKE": True, "RECIPE": "recipes/tiny-cpu.yaml", "MODEL": tiny_model_path, "BACKEND": "hf",
        "STAGE1_DATA": "tests/fixtures/sft_chat_40.jsonl", "BLEND": "tests/fixtures/blend_tiny.jsonl",
        "OUT": str(out), "MAX_STEPS": 1}, tmp_path)
    s1 = json.loads((out / "stage1" / "summary.json").read_text())
    s2 = json.loads((out / "stage2" / "summary.json").read_text())
    assert s1["global_step"] == 1 and s2["global_step"] == 1
    assert (out / "stage2" / "merged" / "config.json").exists()
    assert has_image(nb)  # the loss curves


def test_03_rerank_answer_evaluate(tmp_path, tiny_model_path):
    out = tmp_path / "eval"
    nb = run_notebook("03_rerank_answer_evaluate", {
        "SMOKE": True, "MODEL": "smollm2-135m-rankrag", "LOAD_IN_4BIT": False,  # the shipped adapter
        "EVAL_DATA": "tests/fixtures/inference/twowiki_dev20.jsonl", "LIMIT": 2,
        "BASELINES": ["bm25", "random"], "OUT": str(out)}, tmp_path)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "report.md").exists() and (out / "recall_at_k.png").exists()
    text = outputs_text(nb)
    assert "P(True)=" in text and "answer:" in text
    assert "bm25" in json.dumps(metrics)
