"""P(True) scoring on CPU: bitsandbytes NF4 4-bit against fp32, in one run on the same pairs.

Each arm runs in a child process of its own (so that its peak resident memory is its own): it loads
the model (``load_model(..., load_in_4bit=...)``), scores every (question, passage) pair once to warm
up, then times a second pass with the kit's ``PTrueScorer``. Reported per arm: passages/s, peak RSS,
the model's weight footprint, and against the fp32 arm measured in the same run: the speed and memory
ratios and the Spearman agreement of the scores.

    python benchmarks/quant_scoring.py [--model smollm2-135m-rankrag --questions 4 --passages 10]

Pairs: the 2WikiMultihopQA dev questions in tests/fixtures/inference (their distractor passages).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TWOWIKI = ROOT / "tests" / "fixtures" / "inference" / "twowiki_dev20.jsonl"


def pairs(questions: int, passages: int, max_chars: int) -> list[tuple[str, str]]:
    out = []
    for line in TWOWIKI.read_text().splitlines()[:questions]:
        rec = json.loads(line)
        for p in rec["passages"][:passages]:
            text = p["text"] if len(p["text"]) <= max_chars else p["text"][:max_chars].rsplit(" ", 1)[0]
            out.append((rec["question"], f"{p['title']}\n{text}"))
    return out


def arm(name: str, model: str, ps: list[tuple[str, str]], batch_size: int) -> dict:
    import torch

    from rankrag_lite import prompts
    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.ranking.scorer import PTrueScorer
    from rankrag_lite.modeling.chat import encode, prompt_text

    torch.manual_seed(0)
    t0 = time.perf_counter()
    m, tok = load_model(model, device="cpu", load_in_4bit=(name == "nf4"))
    load_s = time.perf_counter() - t0
    scorer = PTrueScorer(m, tok, batch_size=batch_size)
    seqs = [encode(tok, prompt_text(tok, prompts.ranking_prompt(q, p))) for q, p in ps]
    scorer.score_encoded(seqs)  # warm-up (bitsandbytes repacks NF4 weights for its CPU kernel here)
    t0 = time.perf_counter()
    scores = scorer.score_encoded(seqs)
    wall = time.perf_counter() - t0
    return {"arm": name, "pairs": len(seqs), "tokens": sum(len(s) for s in seqs),
            "passages_per_s": len(seqs) / wall, "wall_s": wall, "load_s": load_s,
            "weights_mb": m.get_memory_footprint() / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "scores": [float(s) for s in scores]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-rankrag", help="Model or adapter to score with.")
    ap.add_argument("--questions", type=int, default=4, help="Questions from the fixture (up to 20).")
    ap.add_argument("--passages", type=int, default=10, help="Passages per question (up to 10).")
    ap.add_argument("--max-chars", type=int, default=400, help="Cut each passage to this many characters.")
    ap.add_argument("--batch-size", type=int, default=8, help="PTrueScorer batch size.")
    ap.add_argument("--arm", choices=["fp32", "nf4"], help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    a = ap.parse_args(argv)
    ps = pairs(a.questions, a.passages, a.max_chars)
    if a.arm:  # child process: one arm
        print(json.dumps(arm(a.arm, a.model, ps, a.batch_size)))
        return 0
    from scipy.stats import spearmanr

    env = dict(os.environ, RANKRAG_LITE_QUIET="1")
    res = {}
    for name in ("fp32", "nf4"):
        cmd = [sys.executable, __file__, "--arm", name, "--model", a.model, "--questions", str(a.questions),
               "--passages", str(a.passages), "--max-chars", str(a.max_chars), "--batch-size", str(a.batch_size)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        res[name] = json.loads(out.strip().splitlines()[-1])
    f, q = res["fp32"], res["nf4"]
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}",
        "model": a.model, "pairs": f["pairs"], "tokens": f["tokens"],
        "arms": {k: {x: round(v[x], 3) for x in ("passages_per_s", "wall_s", "load_s", "weights_mb", "peak_rss_mb")}
                 for k, v in res.items()},
        "nf4_vs_fp32": {"speed": round(q["passages_per_s"] / f["passages_per_s"], 3),
                        "peak_rss": round(q["peak_rss_mb"] / f["peak_rss_mb"], 3),
                        "weights": round(q["weights_mb"] / f["weights_mb"], 3),
                        "spearman": round(float(spearmanr(f["scores"], q["scores"]).statistic), 3),
                        "mean_abs_diff": round(sum(abs(x - y) for x, y in zip(f["scores"], q["scores"])) / f["pairs"], 4)},
    }
    print(json.dumps(summary, indent=2))
    if a.json:
        a.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
