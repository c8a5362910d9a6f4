"""Abstention table from the pair scores that ``rankrag-lite calibrate --scores`` wrote.

The held-out questions of the dev set are used twice: as they are (answerable: a gold passage is among
the candidates) and with their gold passages removed (unanswerable, ``evaluation.abstention``). The
model's P(True) is pointwise, so the unanswerable copy's best score is the best over the non-gold
passages of the same run (no re-scoring); BM25 is recomputed on each pool (its IDF depends on it).
Thresholds: the calibrated 0.5, and for every score the abstention-F1-best one on the fitting split.

    python scripts/abstention_report.py --data DEV --limit 40 --passages 10 --scores scores.jsonl \
        --out abstention.json --plot coverage.png
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from rankrag_lite.evaluation import load_eval_set
from rankrag_lite.evaluation import abstention as A
from rankrag_lite.evaluation.rankers import BM25Ranker, rank
from rankrag_lite.io import iter_jsonl, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--passages", type=int, default=None)
    ap.add_argument("--scores", required=True, help="calibrate --scores JSONL")
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", required=True)
    args = ap.parse_args()

    es = load_eval_set(args.data, limit=args.limit)
    for it in es.items:
        it.passages = it.passages[:args.passages]
    pairs = list(iter_jsonl(args.scores))
    split = {r["qid"]: r["split"] for r in pairs}
    by_q: dict[str, list[dict]] = {}
    for r in pairs:
        by_q.setdefault(r["qid"], []).append(r)
    noans = A.unanswerable_variant(es)
    bm_ans, bm_no = rank(es, BM25Ranker()).scores, rank(noans, BM25Ranker()).scores

    rows = {"fit": [], "heldout": []}  # (has_relevant, best raw, best calibrated, best bm25)
    for it in es.items:
        if it.qid not in by_q:
            continue
        ps = by_q[it.qid]
        gold = [r for r in ps if r["label"]]
        rows[split[it.qid]].append((bool(gold), max(r["raw"] for r in ps), max(r["calibrated"] for r in ps),
                                    max(bm_ans[it.qid].values())))
        rest = [r for r in ps if not r["label"]]
        q2 = it.qid + "#noans"
        if rest and q2 in bm_no:
            rows[split[it.qid]].append((False, max(r["raw"] for r in rest), max(r["calibrated"] for r in rest),
                                        max(bm_no[q2].values())))
    names = {"raw P(True)": 1, "calibrated P(True)": 2, "BM25": 3}
    report = {"data": args.data, "questions": {s: len(v) for s, v in rows.items()}, "scores": {}}
    curves = {}
    for name, col in names.items():
        fit = np.array([r[col] for r in rows["fit"]])
        fit_rel = np.array([r[0] for r in rows["fit"]])
        held = np.array([r[col] for r in rows["heldout"]])
        rel = np.array([r[0] for r in rows["heldout"]])
        t = A.best_threshold(fit, fit_rel)
        entry = {"auroc": A.auroc(held, rel), "tuned": A.abstention_at(held, rel, t)}
        if col == 2:
            entry["at_0.5"] = A.abstention_at(held, rel, 0.5)
        report["scores"][name] = entry
        curves[name] = A.coverage_curve(held, rel)
    A.plot_coverage(curves, args.plot, ylabel="answered with a relevant passage present",
                    title="Held-out 2Wiki, answerable + gold-removed")
    write_json(args.out, report)
    print("| best score | AUROC | threshold | coverage | abstention precision | abstention recall |")
    print("|---|---|---|---|---|---|")
    for name, e in report["scores"].items():
        for key in ("tuned", "at_0.5"):
            if key in e:
                a = e[key]
                print(f"| {name} ({'fit-split F1-best' if key == 'tuned' else 'fixed 0.5'}) | {e['auroc']:.3f} | "
                      f"{a['threshold']:.3g} | {a['coverage']:.2f} | {a['precision']:.2f} | {a['recall']:.2f} |")
    print(json.dumps(report["questions"]))


if __name__ == "__main__":
    main()
