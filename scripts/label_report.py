"""Read a `rankrag-lite label` output: how many negatives the judge rates relevant, per threshold and
kind, and the top-scored negatives (markdown, for docs/results.md).

    python scripts/label_report.py --labels runs/labels-v2.jsonl [--by smollm2-135m-rankrag] [--top 20]
"""

from __future__ import annotations

import argparse
from collections import Counter

from rankrag_lite.io import read_jsonl

THRESHOLDS = {"p_true": (0.3, 0.5, 0.7, 0.9), "minilm": (0.5, 0.6, 0.7), "fused": (0.0, 0.5, 1.0, 1.5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", required=True, help="label output JSONL")
    ap.add_argument("--by", default=None, help="score column the examples are sorted by (default: the first judge)")
    ap.add_argument("--top", type=int, default=20, help="top-scored negatives to print")
    ap.add_argument("--words", type=int, default=60, help="words of each passage printed")
    args = ap.parse_args()
    recs = read_jsonl(args.labels)
    judges = list(recs[0]["scores"])
    cols = judges + (["fused"] if len(judges) > 1 else [])
    neg = [r for r in recs if r["label"] is False]
    pos = [r for r in recs if r["label"] is True]
    kinds = Counter("BM25" if (r["kind"] or "").startswith("bm25") or r["kind"] == "ra" else "given" for r in neg)
    print(f"{len(recs)} pairs: {len(pos)} positives, {len(neg)} negatives ({dict(kinds)}); judge {recs[0]['judge']}\n")

    def value(r, col):
        return r["score"] if col == "fused" else r["scores"][col]

    print("| score | threshold | negatives at or above (share) | of them BM25 | positives below (share) |")
    print("|---|---|---|---|---|")
    for col in cols:
        ths = THRESHOLDS["fused" if col == "fused" else "minilm" if col == "minilm" else "p_true"]
        for t in ths:
            hi = [r for r in neg if value(r, col) >= t]
            bm = sum(1 for r in hi if r["kind"] != "given_negative")
            lo = sum(1 for r in pos if value(r, col) < t)
            print(f"| {col} | {t:g} | {len(hi)} ({len(hi) / max(1, len(neg)):.1%}) | {bm} | "
                  f"{lo} ({lo / max(1, len(pos)):.1%}) |")
    by = args.by or judges[0]
    print(f"\nBy source, negatives with {by} >= 0.5 / all negatives: " + ", ".join(
        f"{s} {sum(1 for r in neg if r['source'] == s and value(r, by) >= 0.5)}/{n}"
        for s, n in sorted(Counter(r["source"] for r in neg).items())))
    print(f"\nTop {args.top} negatives by {by}:\n")
    top = sorted(neg, key=lambda r: -value(r, by))[: args.top]
    for i, r in enumerate(top, start=1):
        words = r["text"].split()
        text = " ".join(words[: args.words]) + (" ..." if len(words) > args.words else "")
        others = ", ".join(f"{c} {value(r, c):.3f}" for c in cols if c != by)
        print(f"{i}. **{r['source']}** ({r['part']}, {r['kind']}), {by} {value(r, by):.3f}"
              + (f" ({others})" if others else "") + f"  \n   Q: {r['question']}  \n"
              f"   P: *{r['title']}*: {text}\n")


if __name__ == "__main__":
    main()
