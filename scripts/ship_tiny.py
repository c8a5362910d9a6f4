#!/usr/bin/env python
"""Install a finished tiny-recipe run as the adapter shipped in the package, and record its metrics.

    python scripts/ship_tiny.py copy --run runs/tiny-v2
    python scripts/ship_tiny.py metrics --evals runs/eval-fixture20 runs/eval-2wiki100 runs/eval-dl19-top30
    python scripts/ship_tiny.py metrics --append --evals runs/eval-dl21-top100

``copy`` puts the adapter weights and config, the recipe and the run's summary into
``rankrag_lite/assets/smollm2-135m-rankrag/``; ``metrics`` writes ``metrics.json`` there from
``rankrag-lite evaluate`` outputs (``--append``: added to the ones recorded, each under its folder's
name; a significance comparison is kept with it). The first evaluation must be on the test fixture
(``tests/fixtures/inference/twowiki_dev20.jsonl``): ``tests/test_shipped_adapter.py`` reproduces it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import yaml

from rankrag_lite.recipes import load_recipe
from rankrag_lite.training.config import stage_config

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "rankrag_lite" / "assets" / "smollm2-135m-rankrag"
RECIPE = ROOT / "recipes" / "tiny-cpu.yaml"
FIXTURE = "tests/fixtures/inference/twowiki_dev20.jsonl"
MAX_BYTES = 25 * 2**20


def copy(run: Path) -> None:
    weights = run / "adapter" / "adapter_model.safetensors"
    if weights.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{weights} is over 25 MB")
    cfg = json.loads((run / "adapter" / "adapter_config.json").read_text())
    if cfg.get("base_model_name_or_path") != "smollm2-135m":
        raise SystemExit(f"the adapter's base is {cfg.get('base_model_name_or_path')!r}, not smollm2-135m")
    # the recipe shipped beside the adapter must train what was trained: its resolved stage-2 settings
    # equal the run's (the data path aside); the run may have come from a lever recipe of the same settings
    trained = yaml.safe_load((run / "recipe.yaml").read_text())["finetune_run"]
    shipped = dataclasses.asdict(stage_config(load_recipe(RECIPE), 2))
    differ = sorted(k for k in set(trained) | set(shipped) if k != "data" and trained.get(k) != shipped.get(k))
    if differ:
        raise SystemExit(f"{RECIPE.relative_to(ROOT)} does not train what {run} trained: {differ} differ "
                         f"(see {run / 'recipe.yaml'})")
    ASSET.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        shutil.copy2(run / "adapter" / name, ASSET / name)
    shutil.copy2(RECIPE, ASSET / "recipe.yaml")
    shutil.copy2(run / "summary.json", ASSET / "train_summary.json")
    if (ASSET / "calibration.json").exists():  # fitted for the old weights: the scorer would refuse it
        (ASSET / "calibration.json").unlink()
        print("removed the old calibration.json: rerun bash scripts/calibration_report.sh")
    print(f"copied {run} -> {ASSET}")


def metrics(evals: list[Path], append: bool = False) -> None:
    out = json.loads((ASSET / "metrics.json").read_text()) if append else {"fixture": FIXTURE, "evaluations": {}}
    for i, d in enumerate(evals):
        m = json.loads((d / "metrics.json").read_text())
        entry = {"dataset": m["dataset"]["name"], "questions": m["dataset"]["questions"],
                 "first_stage": m["dataset"]["first_stage"],
                 "rankers": {k: v["metrics"] for k, v in m["rankers"].items()}}
        if m.get("answers"):
            entry["answers"] = m["answers"]
        if m.get("significance"):
            entry["significance"] = m["significance"]
        if i == 0 and not append:
            if m["dataset"]["name"] != Path(FIXTURE).name:
                raise SystemExit(f"the first evaluation must be on {FIXTURE}, got {m['dataset']['name']}")
            out["fixture_metrics"] = entry["rankers"]
        out["evaluations"][d.name] = entry
    (ASSET / "metrics.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {ASSET / 'metrics.json'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("copy")
    c.add_argument("--run", type=Path, required=True)
    m = sub.add_parser("metrics")
    m.add_argument("--evals", type=Path, nargs="+", required=True)
    m.add_argument("--append", action="store_true", help="add to the evaluations recorded in metrics.json")
    a = ap.parse_args()
    copy(a.run) if a.cmd == "copy" else metrics(a.evals, a.append)


if __name__ == "__main__":
    main()
