#!/usr/bin/env bash
# The shipped adapter on data that chose nothing (docs/results.md, "Held-out and unseen sets"):
# questions 101-500 of the 2Wiki dev distractor set (the first 100 chose the recipe, the shipped run and
# the fusion weight), and TREC DL21 over its BM25 top-100 (MS MARCO v2 passages; not in the tiny blend).
# Each against BM25 question by question (evaluate --significance), with the length-neutral pairs. About
# 10 + 12 min on an idle 2-core CPU; each step is skipped when its output exists.
#
#   bash scripts/reproduce_heldout.sh [DATA_ROOT=../shared/data] [RUNS=runs]
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS, TWOWIKI, DL19, FUSE; the venv on PATH
DL21=$DATA/ranking/msmarco_dl21
M=smollm2-135m-rankrag
mkdir -p "$RUNS"
tail -n +101 "$TWOWIKI" > "$RUNS/twowiki_dev_q101-500.jsonl"
[ -f "$RUNS/eval-2wiki-q101-500/metrics.json" ] || \
  rankrag-lite evaluate --data "$RUNS/twowiki_dev_q101-500.jsonl" --model $M --rankers bm25,random,longest \
    --fuse bm25:0.5 --no-answer --significance bm25 --out "$RUNS/eval-2wiki-q101-500"
[ -f "$RUNS/eval-dl21-top100/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL21/bm25_top100.json" --qrels "$DL21/qrels.txt" --depth 100 --model $M \
    --rankers given,random,longest --fuse bm25:0.5 --no-answer --significance given --out "$RUNS/eval-dl21-top100"
python scripts/length_pairwise.py --data "$RUNS/twowiki_dev_q101-500.jsonl" --eval "$RUNS/eval-2wiki-q101-500"
python scripts/length_pairwise.py --data "$DL21/bm25_top100.json" --qrels "$DL21/qrels.txt" --depth 100 \
  --eval "$RUNS/eval-dl21-top100"
