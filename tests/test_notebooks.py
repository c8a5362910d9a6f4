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


#: a Colab T4 as torch.cuda reports it: the identity the notebook's profile code reads
T4 = {"name": "Tesla T4", "memory_gib": 14.7, "capability": [7, 5]}


def install_cell(nb: dict) -> str:
    return "".join(nb["cells"][2]["source"])


def test_install_cells_use_the_one_gpu_install_and_keep_torch():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cell = install_cell(json.loads(path.read_text()))
        assert '"scripts/install_gpu.sh", *[e for e in INSTALL_EXTRAS.split(",") if e]' in cell, path.name
        assert "pip" not in cell.replace("the kit's pinned", ""), path.name  # no second install command
    assert "--no-deps" in (ROOT / "scripts" / "install_gpu.sh").read_text()  # Unsloth's way: torch kept


def test_03_installs_what_its_evaluation_cell_uses():
    nb = json.loads((NOTEBOOKS / "03_rerank_answer_evaluate.ipynb").read_text())
    scope: dict = {}
    exec("".join(nb["cells"][1]["source"]), scope)  # the parameters cell: plain assignments
    if "minilm" in scope["BASELINES"]:
        assert "dense" in scope["INSTALL_EXTRAS"].split(",")


def test_02_finetune(tmp_path, tiny_model_path, tiny_recipe):
    out = tmp_path / "ft"
    # a small recipe (effective batch 2) that the T4 profile turns into micro-batch 1 x accumulation 2;
    # unpacked rows (~200 tokens), not 2048-token packed ones: CPU time (one step took 9 min under load)
    recipe = tiny_recipe(tmp_path / "smoke.yaml", stage1={"last_turn_only": True, "packing": False},
                         stage2={"merge": True, "packing": False})
    nb = run_notebook("02_finetune_unsloth", {
        "SMOKE": True, "GPU_IDENTITY": T4, "RECIPE": str(recipe), "MODEL": tiny_model_path,
        "BACKEND": "hf", "STAGE1_DATA": "tests/fixtures/sft_chat_40.jsonl",
        "BLEND": "tests/fixtures/blend_tiny.jsonl", "OUT": str(out), "MAX_STEPS": 1}, tmp_path)
    text = outputs_text(nb)
    assert "profile T4, max_length 2048, micro-batch 1" in text
    s1 = json.loads((out / "stage1" / "summary.json").read_text())
    s2 = json.loads((out / "stage2" / "summary.json").read_text())
    assert s1["global_step"] == 1 and s2["global_step"] == 1
    # each stage ran as its own `rankrag-lite finetune` process, on the T4 profile's recipe
    assert text.count("$ rankrag-lite finetune --stage") == 2 and "recipe-T4.yaml" in text
    import yaml

    from rankrag_lite.training.config import stage_config

    tiny, t4 = yaml.safe_load(recipe.read_text()), yaml.safe_load((out / "recipe-T4.yaml").read_text())
    for stage in (1, 2):
        a, b = stage_config(tiny, stage), stage_config(t4, stage)
        assert (b.max_length, b.batch_size, b.grad_accum) == (2048, 1, 2) and a.batch_size * a.grad_accum == 2
    for stage in ("stage1", "stage2"):  # what each stage's process ran with
        ran = yaml.safe_load((out / stage / "recipe.yaml").read_text())["finetune_run"]
        assert (ran["max_length"], ran["batch_size"], ran["grad_accum"]) == (2048, 1, 2)
    assert (out / "stage2" / "merged" / "config.json").exists()
    assert has_image(nb)  # the loss curves


def test_03_rerank_answer_evaluate(tmp_path, tiny_model_path):
    out = tmp_path / "eval"
    nb = run_notebook("03_rerank_answer_evaluate", {
        "SMOKE": True, "MODEL": "smollm2-135m-rankrag", "LOAD_IN_4BIT": False,  # the shipped adapter
        "EVAL_DATA": "tests/fixtures/inference/twowiki_dev20.jsonl", "LIMIT": 2,
        "OUT": str(out)}, tmp_path)  # the notebook's own BASELINES, minilm (the dense extra) included
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "report.md").exists() and (out / "recall_at_k.png").exists()
    text = outputs_text(nb)
    assert "P(True)=" in text and "answer:" in text
    assert all(b in json.dumps(metrics) for b in ("bm25", "minilm", "random"))
