#!/usr/bin/env python
"""How much of a ranking is passage length: gold-vs-negative pairs, split by which one is longer.

For every ranker in a ``rankrag-lite evaluate`` output, over every (gold, negative) pair of a
question: the share of pairs with the gold ranked above the negative, separately for negatives at
least as long as the gold (length cannot help the gold) and shorter ones, and for negatives of
about the gold's length (within 20%: length hardly tells them apart); and the mean Spearman
correlation between rank and length among the negatives (positive: longer ranked higher).

    python scripts/length_pairwise.py --data ../shared/data/multihop/twowiki_dev500_distractor.jsonl \\
        --eval runs/eval-2wiki100

A ranker that knows relevance puts the gold first whichever is longer; a length ranker wins only
against shorter negatives. Where a question has more candidates than evaluate keeps per ranker
(its largest k, e.g. DL19 at --depth 30), the passages below a ranker's kept top count as ranked
after it, and a pair of two such passages is skipped. The evaluation set is read with the kit's loader, so passage ids and gold
labels are the ones ``evaluate`` used.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import spearmanr

from rankrag_lite.evaluation.datasets import load_eval_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the evaluation set given to evaluate --data")
    ap.add_argument("--eval", type=Path, required=True, help="the evaluate output folder")
    ap.add_argument("--qrels", default=None)
    ap.add_argument("--depth", type=int, default=100)
    args = ap.parse_args()

    rows = [json.loads(x) for x in (args.eval / "per_question.jsonl").read_text().splitlines()]
    es = load_eval_set(args.data, qrels=args.qrels, depth=args.depth, limit=len(rows))
    items = {it.qid: it for it in es.items}
    out = {}
    for ranker in rows[0]["rankers"]:
        won_long = n_long = won_short = n_short = won_near = n_near = 0
        rhos = []
        for r in rows:
            it = items[r["qid"]]
            top = r["rankers"][ranker]["top"]  # evaluate keeps the top max(k): deeper passages are unranked
            rank = {pid: i for i, pid in enumerate(top)}
            for p in it.passages:  # below every kept one, tied among themselves (their pairs are skipped)
                rank.setdefault(p["pid"], len(top))
            length = {p["pid"]: len(p["text"].split()) for p in it.passages}
            gold = [p for p in length if it.qrels.get(p, 0) > 0]
            neg = [p for p in length if it.qrels.get(p, 0) <= 0]
            for g in gold:
                for n in neg:
                    if rank[g] == rank[n]:  # both below the kept top
                        continue
                    if length[n] >= length[g]:
                        n_long += 1
                        won_long += rank[g] < rank[n]
                    else:
                        n_short += 1
                        won_short += rank[g] < rank[n]
                    if abs(length[n] - length[g]) <= 0.2 * max(length[n], length[g]):
                        n_near += 1
                        won_near += rank[g] < rank[n]
            if len(neg) > 2:
                rho = spearmanr([-rank[n] for n in neg], [length[n] for n in neg])[0]
                if rho == rho:  # not NaN (all negatives of equal length)
                    rhos.append(rho)
        out[ranker] = {
            "gold_above_longer_negative": won_long / n_long if n_long else None, "pairs_longer": n_long,
            "gold_above_shorter_negative": won_short / n_short if n_short else None, "pairs_shorter": n_short,
            "gold_above_similar_length_negative": won_near / n_near if n_near else None,
            "pairs_similar_length": n_near,
            "spearman_rank_length_negatives": sum(rhos) / len(rhos) if rhos else None,
        }
        v = out[ranker]

        def fmt(x):
            return "n/a" if x is None else f"{x:.3f}"

        print(f"{ranker:24s} gold>longer neg {fmt(v['gold_above_longer_negative'])} (n={n_long})  "
              f"gold>shorter neg {fmt(v['gold_above_shorter_negative'])} (n={n_short})  "
              f"gold>similar-length neg {fmt(v['gold_above_similar_length_negative'])} (n={n_near})  "
              f"spearman(rank, length | negatives) {fmt(v['spearman_rank_length_negatives'])}")
    (args.eval / "length_pairwise.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
