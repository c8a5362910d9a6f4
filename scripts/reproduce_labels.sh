#!/usr/bin/env bash
# Reproduce docs/results.md "Judge labels for the tiny blend": the tiny recipe's blend (the one the shipped
# adapter trained on), its ranking pairs judged by the shipped adapter and by MiniLM, the counts and the
# top-scored negatives (which were then read by hand). Each step is skipped when its output exists; a
# killed `label` run resumes where it stopped when started again (its .OUT.partial keeps the scores).
#
#   bash scripts/reproduce_labels.sh [DATA_ROOT=../shared/data] [RUNS=runs]
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS; the venv on PATH

[ -f "$RUNS/blend-v2/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/tiny-cpu.yaml --data-root "$DATA" --out "$RUNS/blend-v2"

# 2830 distinct ranking pairs (1176 positives, 1654 negatives). The adapter (fused with MiniLM, so both
# columns are in one file) was started on a seeded sample of 600 negatives and 200 positives and stopped
# after 27 minutes (0.1 pairs/s on the shared CPU) with the first 150 of the draw scored: exactly this
# smaller sample of the same seed, which the partial file then completed without scoring again.
# About 4 pairs/s on an idle 2-core CPU: drop the --sample-* options to judge all 2830 pairs (~12 min).
[ -f "$RUNS/labels-v2.jsonl" ] || \
  nice -n 15 rankrag-lite label --judge smollm2-135m-rankrag --judge minilm --input "$RUNS/blend-v2" \
    --sample-negatives 113 --sample-positives 37 --seed 0 --chunk-size 50 --out "$RUNS/labels-v2.jsonl"

# MiniLM alone over every pair (a few minutes on an idle CPU)
[ -f "$RUNS/labels-v2-minilm.jsonl" ] || \
  nice -n 15 rankrag-lite label --judge minilm --input "$RUNS/blend-v2" --out "$RUNS/labels-v2-minilm.jsonl"

# the counts per threshold and the top-scored negatives (docs/results.md)
python scripts/label_report.py --labels "$RUNS/labels-v2.jsonl" --top 20
python scripts/label_report.py --labels "$RUNS/labels-v2-minilm.jsonl" --top 20
