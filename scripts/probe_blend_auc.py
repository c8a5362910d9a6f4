#!/usr/bin/env python
"""Does a model separate the True and False rows of a blend's context-ranking part? P(True) AUC per source.

    python scripts/probe_blend_auc.py --blend runs/blend-v2/blend.jsonl --per-source 100 \\
        --model smollm2-135m --model runs/tiny-v2/snapshots/step-80

For each source (HotpotQA, NQ, ...), a fixed sample of rows (seeded; half True, half False where the
part has them) is scored with the kit's P(True) scorer on the row's own prompt, rendered and
tokenised as training does. The
AUC is the probability that a True row scores above a False row (0.5: no separation). On training
rows this measures fit: a model that cannot separate the pairs it was trained on has too little
capacity or too few steps; one that separates them but not the evaluation set has learned something
that does not transfer (``--not-in`` probes held-out rows of the same pools). With each AUC: the
Spearman correlation of P(True) with passage length in words.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

from scipy.stats import rankdata, spearmanr

from rankrag_lite.modeling.loading import load_model
from rankrag_lite.ranking.scorer import PTrueScorer
from rankrag_lite.modeling.chat import encode, prompt_text


def auc(pos: list[float], neg: list[float]) -> float:
    r = rankdata(pos + neg)
    return (sum(r[: len(pos)]) - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def passage_words(row: dict) -> int:
    """Words of the row's context block (its first paragraph: title and text, after "Passage:")."""
    user = next(m["content"] for m in row["messages"] if m["role"] == "user")
    return len(user.split("\n\n", 1)[0].split()) - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blend", type=Path, required=True,
                    help="a blend.jsonl (or a part file): its context-ranking rows are probed")
    ap.add_argument("--model", action="append", required=True, help="model, alias or adapter folder")
    ap.add_argument("--not-in", type=Path, default=None,
                    help="skip rows whose prompt is in this file (e.g. probe ranking.jsonl's pool rows "
                         "that the trained blend.jsonl does not hold: held-out pairs)")
    ap.add_argument("--per-source", type=int, default=100, help="rows per source (half True)")
    ap.add_argument("--sources", default=None, help="comma-separated sources to probe (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    args = ap.parse_args()

    seen = set()
    if args.not_in:
        seen = {json.dumps(json.loads(x)["messages"]) for x in args.not_in.read_text().splitlines()}
    by_source: dict[str, dict[bool, list]] = defaultdict(lambda: {True: [], False: []})
    for line in args.blend.read_text().splitlines():
        row = json.loads(line)
        if row.get("part") != "ranking" or json.dumps(row["messages"]) in seen:
            continue
        if args.sources and row["source"] not in args.sources.split(","):
            continue
        by_source[row["source"]][row["messages"][-1]["content"].strip() == "True"].append(row)
    sample: dict[str, list] = {}
    for src, groups in sorted(by_source.items()):
        rng = random.Random(f"{args.seed}:{src}")  # a source's sample does not depend on the others
        half = args.per_source // 2
        take = {y: rng.sample(v, min(half, len(v))) for y, v in groups.items()}
        sample[src] = [(r, y) for y in (True, False) for r in take[y]]

    result: dict = {}
    for name in args.model:
        model, tok = load_model(name, dtype=None)
        scorer = PTrueScorer(model, tok)
        result[name] = {}
        for src, rows in sample.items():
            # the row's own prompt (its messages without the target), rendered as training renders it
            scores = scorer.score_encoded([encode(tok, prompt_text(tok, r["messages"][:-1])) for r, _ in rows])
            pos = [s for s, (_, y) in zip(scores, rows) if y]
            neg = [s for s, (_, y) in zip(scores, rows) if not y]
            a = auc(pos, neg) if pos and neg else None
            rho = spearmanr(scores, [passage_words(r) for r, _ in rows])[0]
            result[name][src] = {"auc": a, "n_true": len(pos), "n_false": len(neg),
                                 "spearman_score_length": rho}
            print(f"{name:40s} {src:18s} AUC {a if a is None else round(a, 3)}  "
                  f"(True {len(pos)}, False {len(neg)})  rho(P, words) {rho:+.2f}", flush=True)
        del model
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
