"""P(True) scoring through Ray against the local scorer, in one run on the same pairs.

Arms (each end to end, as a command would pay it):

- ``local``: the model loaded in this process (``ScorerSpec.load``, what ``rerank`` does) and every pair
  scored once, shard by shard, with torch's default threads; ``local-1-thread``: the same on one
  thread (what one Ray actor with ``num_cpus=1`` gets);
- ``ray-1`` / ``ray-2``: :class:`rankrag_lite.ranking.distributed.RayScorer` on a local Ray started by
  this script (``ray.init``: 1 CPU per actor), with 1 and 2 actors: shards of ``--shard-passages``
  pairs, actors started, the model loaded in each, every shard scored, the scores gathered in order.

Reported: wall seconds and passages/s per arm; against ``local``: the passages/s ratio, the overhead
per pair ((arm wall - local wall) / pairs) and the largest score difference. On a small machine expect
overhead, not speed-up (the actors share the cores the local run has to itself).

    nice -n 15 python benchmarks/ray_scoring.py [--questions 2 --passages 8 --shard-passages 4]

Pairs: the 2WikiMultihopQA dev questions in tests/fixtures/inference (their distractor passages).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from quant_scoring import pairs  # noqa: E402  (the same fixture pairs as the NF4 benchmark)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-rankrag", help="Model or adapter to score with.")
    ap.add_argument("--questions", type=int, default=2, help="Questions from the fixture (up to 20).")
    ap.add_argument("--passages", type=int, default=8, help="Passages per question (up to 10).")
    ap.add_argument("--max-chars", type=int, default=200, help="Cut each passage to this many characters.")
    ap.add_argument("--batch-size", type=int, default=8, help="PTrueScorer batch size.")
    ap.add_argument("--shard-passages", type=int, default=4, help="Pairs per Ray shard.")
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    a = ap.parse_args(argv)
    os.environ.setdefault("RANKRAG_LITE_QUIET", "1")
    sys.path.insert(0, str(ROOT))
    from rankrag_lite.ranking.distributed import RayOptions, RayScorer, ScorerSpec, connect, shutdown

    ps = pairs(a.questions, a.passages, a.max_chars)
    spec = ScorerSpec(a.model, batch_size=a.batch_size)
    res: dict[str, dict] = {}

    import torch

    threads = torch.get_num_threads()
    for name, n_threads in (("local", threads), ("local-1-thread", 1)):  # an actor has 1 CPU: 1 thread
        torch.set_num_threads(n_threads)
        t0 = time.perf_counter()
        scorer = spec.load()
        load_s = time.perf_counter() - t0
        scores = []
        for i in range(0, len(ps), a.shard_passages):  # the shards the Ray arms score, one call each
            scores.extend(scorer.score(ps[i:i + a.shard_passages]))
        res[name] = {"wall_s": time.perf_counter() - t0, "load_s": load_s, "scores": scores}
        del scorer
    torch.set_num_threads(threads)

    t0 = time.perf_counter()
    connect(RayOptions(actors=1))  # the local Ray itself is started once, outside the timed arms
    start_s = time.perf_counter() - t0
    for n in (1, 2):
        rs = RayScorer(spec, RayOptions(actors=n), shard_passages=a.shard_passages)
        t0 = time.perf_counter()
        scores = rs.score(ps)
        res[f"ray-{n}"] = {"wall_s": time.perf_counter() - t0, "scores": scores}
    shutdown()

    local = res["local"]
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        "model": a.model, "pairs": len(ps), "shard_passages": a.shard_passages,
        "ray_start_s": round(start_s, 2), "local_load_s": round(local["load_s"], 2), "torch_threads": threads,
        "arms": {},
    }
    for name, r in res.items():
        row = {"wall_s": round(r["wall_s"], 2), "passages_per_s": round(len(ps) / r["wall_s"], 3)}
        if name != "local":  # every other arm against the local run of this script
            row["speed_vs_local"] = round(local["wall_s"] / r["wall_s"], 3)
            row["overhead_s_per_pair"] = round((r["wall_s"] - local["wall_s"]) / len(ps), 3)
            row["max_abs_score_diff"] = max(abs(x - y) for x, y in zip(r["scores"], local["scores"]))
        summary["arms"][name] = row
    print(json.dumps(summary, indent=2))
    if a.json:
        a.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
