#!/usr/bin/env bash
# Reproduce docs/results.md "Judge labels over the whole blend, and the paper's ablation" (issue 24):
#  1. every ranking pair of the shipped adapter's blend judged by the shipped adapter (`label`), the counts;
#  2. the judge-filtered blend (recipes/levers/judge-labels.yaml: negatives with P(True) >= 0.5 dropped);
#  3. the paper's ablation: the same recipe trained on the blend's ranking rows alone (the same ranking
#     pairs, no SFT / context-QA / RA-QA rows), two passes like the shipped run, evaluated against the
#     shipped adapter (the blend) and BM25 question by question, ranking and answers.
# About 12 min of labelling, 65 min of training and 45 min of evaluation on an idle 2-core CPU; run it
# alone (parallel torch jobs slow each other down 5-10x). Each step is skipped when its output exists;
# a killed `label` or `finetune` resumes where it stopped (finetune through --resume).
#
#   bash scripts/reproduce_ablation.sh [DATA_ROOT=../shared/data] [RUNS=runs]
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS, TWOWIKI, DL19; the venv on PATH
SHIPPED=smollm2-135m-rankrag

# the blend the shipped adapter trained on (train_summary.json's part counts)
[ -f "$RUNS/blend-v2/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/tiny-cpu.yaml --data-root "$DATA" --out "$RUNS/blend-v2"

# 1. all 2,830 pairs of that blend judged by the shipped adapter (calibrated P(True))
[ -f "$RUNS/labels-v2-adapter.jsonl" ] || \
  rankrag-lite label --judge $SHIPPED --input "$RUNS/blend-v2" --seed 0 --chunk-size 200 \
    --out "$RUNS/labels-v2-adapter.jsonl"
python scripts/label_report.py --labels "$RUNS/labels-v2-adapter.jsonl" --top 20

# 2. the judge-filtered blend: what P(True) >= 0.5 drops, counted in its manifest
[ -f "$RUNS/blend-judge/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/levers/judge-labels.yaml --data-root "$DATA" \
    --labels "$RUNS/labels-v2-adapter.jsonl" --out "$RUNS/blend-judge"

# 3. the ablation: the blend's ranking rows alone (2,431 context-ranking + 113 RA-ranking rows)
mkdir -p "$RUNS/blend-ranking-only"
[ -f "$RUNS/blend-ranking-only/blend.jsonl" ] || python - "$RUNS" <<'EOF'
import json, sys
runs = sys.argv[1]
with open(f"{runs}/blend-v2/blend.jsonl") as src, open(f"{runs}/blend-ranking-only/blend.jsonl.part", "w") as out:
    for line in src:
        if json.loads(line)["part"] in ("ranking", "ra_ranking"):
            out.write(line)
import os; os.replace(f"{runs}/blend-ranking-only/blend.jsonl.part", f"{runs}/blend-ranking-only/blend.jsonl")
EOF
if [ ! -f "$RUNS/tiny-ranking-only/summary.json" ]; then
  resume=""; [ -d "$RUNS/.tiny-ranking-only.work/checkpoints" ] && resume="--resume"
  rankrag-lite finetune --stage 2 --recipe recipes/tiny-cpu.yaml --data "$RUNS/blend-ranking-only/blend.jsonl" \
    --out "$RUNS/tiny-ranking-only" $resume
fi
RO=$RUNS/tiny-ranking-only

# ranking: 2Wiki dev 1-100 and 101-500, DL19 over the BM25 top-100; each model against BM25 and the
# ranking-only model against the blend (--significance: question by question)
tail -n +101 "$TWOWIKI" > "$RUNS/twowiki_dev_q101-500.jsonl"
[ -f "$RUNS/eval-ablation-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model $SHIPPED --model "$RO" --rankers bm25 \
    --significance $SHIPPED --answer-model $SHIPPED --answer-from $SHIPPED,bm25 --out "$RUNS/eval-ablation-2wiki100"
# the answer side of the ranking-only model: it answers from its own top-5
[ -f "$RUNS/eval-ablation-2wiki100-ro-answers/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model "$RO" --rankers bm25 \
    --answer-model "$RO" --answer-from tiny-ranking-only,bm25 --out "$RUNS/eval-ablation-2wiki100-ro-answers"
[ -f "$RUNS/eval-ablation-2wiki-q101-500/metrics.json" ] || \
  rankrag-lite evaluate --data "$RUNS/twowiki_dev_q101-500.jsonl" --model $SHIPPED --model "$RO" --rankers bm25 \
    --no-answer --significance $SHIPPED --out "$RUNS/eval-ablation-2wiki-q101-500"
[ -f "$RUNS/eval-ablation-dl19-top100/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 100 \
    --model $SHIPPED --model "$RO" --rankers given --no-answer --significance $SHIPPED \
    --out "$RUNS/eval-ablation-dl19-top100"

# learning curve of the ranking-only run: its snapshots on the first 40 2Wiki questions
if [ ! -f "$RUNS/eval-ablation-lc/metrics.json" ]; then
  models=()
  for s in 40 80 120 160 200; do models+=(--model "$RO/snapshots/step-$s"); done
  rankrag-lite evaluate --data "$TWOWIKI" --limit 40 "${models[@]}" --rankers bm25 --no-answer \
    --out "$RUNS/eval-ablation-lc"
fi
echo "done: $RUNS/eval-ablation-*"
