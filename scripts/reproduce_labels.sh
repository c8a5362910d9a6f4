#!/usr/bin/env bash
# Reproduce docs/results.md "Judge labels for the tiny blend": the tiny recipe's blend (the one the shipped
# adapter trained on), its ranking pairs judged by the shipped adapter fused with MiniLM (both columns are
# kept, so each judge alone is read from the same file), the counts and the examples read by hand.
# About 25 min of scoring on a shared 2-core CPU (nice -n 15). Each step is skipped when its output
# exists; a killed `label` run resumes where it stopped when started again.
#
#   bash scripts/reproduce_labels.sh [DATA_ROOT=../shared/data] [RUNS=runs]
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS; the venv on PATH

[ -f "$RUNS/blend-v2/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/tiny-cpu.yaml --data-root "$DATA" --out "$RUNS/blend-v2"

# 2830 distinct ranking pairs (1176 positives, 1654 negatives): 600 negatives and 200 positives drawn
# with seed 0, to keep the scoring under 25 minutes on the shared CPU (about 1 pair/s under load)
[ -f "$RUNS/labels-v2.jsonl" ] || \
  nice -n 15 rankrag-lite label --judge smollm2-135m-rankrag --judge minilm --input "$RUNS/blend-v2" \
    --sample-negatives 600 --sample-positives 200 --seed 0 --chunk-size 50 --out "$RUNS/labels-v2.jsonl"

# the counts per threshold and the top-scored negatives (docs/results.md)
python scripts/label_report.py --labels "$RUNS/labels-v2.jsonl" --top 20
