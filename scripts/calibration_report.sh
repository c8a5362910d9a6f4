#!/usr/bin/env bash
# Calibration and abstention numbers of docs/results.md for the shipped adapter (or MODEL=...):
# fit temperature + bias on the first half of the first 40 2Wiki dev questions (10 passages each),
# report ECE / Brier before and after on the second half, store the calibration inside the adapter
# folder (where the scorer applies it), then the abstention table (answerable + gold-removed copies of
# the held-out questions, against BM25). About 400 pairs: a few minutes on an idle 2-core CPU.
#
#   bash scripts/calibration_report.sh [DATA_ROOT=../shared/data] [OUT=runs/calibration]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/calibration}
MODEL=${MODEL:-smollm2-135m-rankrag}
TWOWIKI=$DATA/multihop/twowiki_dev500_distractor.jsonl
PY=${PYTHON:-python}
mkdir -p "$OUT"
CAL_OUT=()
[ "$MODEL" = smollm2-135m-rankrag ] && CAL_OUT=(--out rankrag_lite/assets/smollm2-135m-rankrag/calibration.json)
$PY -m rankrag_lite calibrate --model "$MODEL" --data "$TWOWIKI" --limit 40 --passages 10 "${CAL_OUT[@]}" \
  --plot docs/img/calibration_reliability.png --scores "$OUT/scores.jsonl" | tee "$OUT/calibrate.json"
$PY scripts/abstention_report.py --data "$TWOWIKI" --limit 40 --passages 10 --scores "$OUT/scores.jsonl" \
  --out "$OUT/abstention.json" --plot docs/img/abstention_coverage.png | tee "$OUT/abstention.md"
