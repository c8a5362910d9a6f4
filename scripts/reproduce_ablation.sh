#!/usr/bin/env bash
# Reproduce docs/results.md "Judge labels over the whole blend" and "The paper's ablation" (issue 24):
#  1. every ranking pair of the shipped adapter's blend judged by the shipped adapter (`label`), the counts;
#  2. the judge-labelled run: recipes/levers/judge-labels.yaml (`apply_to: blend`: the shipped blend's
#     draw less the rows with a negative at P(True) >= 0.5 and their length partners), trained for the
#     shipped run's 276 steps (the same tokens);
#  3. the paper's ablation: the same recipe trained on the blend's ranking rows alone (the same ranking
#     pairs, no SFT / context-QA / RA-QA rows), two passes like the shipped run;
#  4. both against the shipped adapter (the blend) and BM25, question by question (--significance), on
#     2Wiki dev 1-100 and 101-500 and DL19 / DL21 over the BM25 top-30, with BM25 fusion rows; the
#     answer side of the ablation; the learning curves from the runs' adapter snapshots.
# About 12 min of labelling, 2 x 70 min of training and 110 min of evaluation on an idle 2-core CPU; run
# it alone (parallel torch jobs slow each other down 5-10x). Each step is skipped when its output
# exists; a killed `label` or `finetune` resumes where it stopped (finetune through --resume).
#
#   bash scripts/reproduce_ablation.sh [DATA_ROOT=../shared/data] [RUNS=runs]
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS, TWOWIKI, DL19; the venv on PATH
SHIPPED=smollm2-135m-rankrag
DL21=$DATA/ranking/msmarco_dl21

finetune() {  # OUT DATA [more finetune options]: the shipped recipe's Stage 2, resumed if it was stopped
  local out=$1 data=$2; shift 2
  [ -f "$out/summary.json" ] && return
  local resume=""; [ -d "$(dirname "$out")/.$(basename "$out").work/checkpoints" ] && resume="--resume"
  rankrag-lite finetune --stage 2 --data "$data" --out "$out" $resume "$@"
}

# the blend the shipped adapter trained on (train_summary.json's part counts)
[ -f "$RUNS/blend-v2/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/tiny-cpu.yaml --data-root "$DATA" --out "$RUNS/blend-v2"

# 1. all 2,830 pairs of that blend judged by the shipped adapter (calibrated P(True))
[ -f "$RUNS/labels-v2-adapter.jsonl" ] || \
  rankrag-lite label --judge $SHIPPED --input "$RUNS/blend-v2" --seed 0 --chunk-size 200 \
    --out "$RUNS/labels-v2-adapter.jsonl"
python scripts/label_report.py --labels "$RUNS/labels-v2-adapter.jsonl" --top 20

# 2. the judge-labelled run: the shipped blend's draw less what P(True) >= 0.5 judges out (the manifest's
#    judge.removed_from_blend counts it), trained for the shipped run's 276 steps
[ -f "$RUNS/blend-judge-drawn/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/levers/judge-labels.yaml --data-root "$DATA" \
    --labels "$RUNS/labels-v2-adapter.jsonl" --out "$RUNS/blend-judge-drawn"
finetune "$RUNS/tiny-judge-drawn" "$RUNS/blend-judge-drawn/blend.jsonl" --recipe recipes/levers/judge-labels.yaml \
  --max-steps 276
JD=$RUNS/tiny-judge-drawn

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
finetune "$RUNS/tiny-ranking-only" "$RUNS/blend-ranking-only/blend.jsonl" --recipe recipes/tiny-cpu.yaml
RO=$RUNS/tiny-ranking-only

# 4. ranking: the three models, BM25 and their BM25 fusions (W=0.5), question by question against the
#    shipped adapter. 2Wiki dev 1-100 (the ablation's answers too: each model answers from its own top-5)
[ -f "$RUNS/eval-ablation-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model $SHIPPED --model "$RO" --rankers bm25 \
    --significance $SHIPPED --answer-model $SHIPPED --answer-from $SHIPPED,bm25 --out "$RUNS/eval-ablation-2wiki100"
[ -f "$RUNS/eval-ablation-2wiki100-ro-answers/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model "$RO" --rankers bm25 \
    --answer-model "$RO" --answer-from tiny-ranking-only,bm25 --out "$RUNS/eval-ablation-2wiki100-ro-answers"
# the judge-labelled model on the same questions; the other two read back from the run above (the TREC
# runs `evaluate` writes of every row, runs/<row>.trec) instead of scored again
[ -f "$RUNS/eval-judge-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model "$JD" --run $SHIPPED="$RUNS/eval-ablation-2wiki100/runs/$SHIPPED.trec" \
    --run tiny-ranking-only="$RUNS/eval-ablation-2wiki100/runs/tiny-ranking-only.trec" --rankers bm25 --no-answer \
    --fuse bm25:0.5 --significance $SHIPPED --out "$RUNS/eval-judge-2wiki100"
# DL19 and DL21 over the BM25 top-30
for set in dl19 dl21; do
  dir=$DL19; [ $set = dl21 ] && dir=$DL21
  [ -f "$RUNS/eval-c-$set-top30/metrics.json" ] || \
    rankrag-lite evaluate --data "$dir/bm25_top100.json" --qrels "$dir/qrels.txt" --depth 30 --model $SHIPPED \
      --model "$RO" --model "$JD" --rankers given --no-answer --fuse bm25:0.5 --significance $SHIPPED \
      --out "$RUNS/eval-c-$set-top30"
done
# 2Wiki dev 101-500 (held out), in four parts of 100 questions (each resumes on its own), then the
# significance over all 400 from the parts' runs put end to end
parts=""
for first in 101 201 301 401; do
  part=q$first-$((first + 99)); parts="$parts $part"
  sed -n "${first},$((first + 99))p" "$TWOWIKI" > "$RUNS/twowiki_dev_$part.jsonl"
  [ -f "$RUNS/eval-c-2wiki-$part/metrics.json" ] || \
    rankrag-lite evaluate --data "$RUNS/twowiki_dev_$part.jsonl" --model $SHIPPED --model "$RO" --model "$JD" \
      --rankers bm25 --no-answer --fuse bm25:0.5 --significance $SHIPPED --out "$RUNS/eval-c-2wiki-$part"
done
sed -n '101,500p' "$TWOWIKI" > "$RUNS/twowiki_dev_q101-500.jsonl"
mkdir -p "$RUNS/run-2wiki-q101-500"
runargs=""
for row in $SHIPPED tiny-ranking-only tiny-judge-drawn $SHIPPED+bm25_0.5 tiny-ranking-only+bm25_0.5 \
    tiny-judge-drawn+bm25_0.5; do
  for part in $parts; do cat "$RUNS/eval-c-2wiki-$part/runs/$row.trec"; done > "$RUNS/run-2wiki-q101-500/$row.trec"
  runargs="$runargs --run $row=$RUNS/run-2wiki-q101-500/$row.trec"
done
[ -f "$RUNS/eval-c-2wiki-q101-500/metrics.json" ] || \
  rankrag-lite evaluate --data "$RUNS/twowiki_dev_q101-500.jsonl" --rankers bm25 $runargs --no-answer \
    --significance $SHIPPED --out "$RUNS/eval-c-2wiki-q101-500"
runargs=""
for row in $SHIPPED tiny-ranking-only tiny-judge-drawn; do
  runargs="$runargs --run $row=$RUNS/run-2wiki-q101-500/$row.trec"
done
[ -f "$RUNS/eval-c-2wiki-q101-500-vs-bm25/metrics.json" ] || \
  rankrag-lite evaluate --data "$RUNS/twowiki_dev_q101-500.jsonl" --rankers bm25 $runargs --no-answer \
    --significance bm25 --out "$RUNS/eval-c-2wiki-q101-500-vs-bm25"
# all 500: 1-100's runs (from eval-judge-2wiki100) and 101-500's, end to end
mkdir -p "$RUNS/run-2wiki-q1-500"
runargs=""
for row in $SHIPPED tiny-ranking-only tiny-judge-drawn tiny-judge-drawn+bm25_0.5; do
  cat "$RUNS/eval-judge-2wiki100/runs/$row.trec" "$RUNS/run-2wiki-q101-500/$row.trec" > "$RUNS/run-2wiki-q1-500/$row.trec"
  runargs="$runargs --run $row=$RUNS/run-2wiki-q1-500/$row.trec"
done
[ -f "$RUNS/eval-c-2wiki-q1-500/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --rankers bm25 $runargs --no-answer --significance $SHIPPED \
    --out "$RUNS/eval-c-2wiki-q1-500"
# the judge-labelled model's answers on 2Wiki dev 1-100, from its own top-5 and from BM25's
[ -f "$RUNS/eval-jd-answers-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --rankers bm25 \
    --run tiny-judge-drawn="$RUNS/eval-judge-2wiki100/runs/tiny-judge-drawn.trec" --answer-model "$JD" \
    --answer-from tiny-judge-drawn,bm25 --out "$RUNS/eval-jd-answers-2wiki100"

# learning curves: adapter snapshots of both runs and the zero-shot model on the first 40 2Wiki questions
# (the finished runs are in the 2Wiki 1-100 evaluations); links give the snapshots distinct row names
mkdir -p "$RUNS/lc"
for s in 80 160; do
  ln -sfn "../tiny-ranking-only/snapshots/step-$s" "$RUNS/lc/ro-step-$s"
  ln -sfn "../tiny-judge-drawn/snapshots/step-$s" "$RUNS/lc/jd-step-$s"
done
ln -sfn ../tiny-judge-drawn/snapshots/step-220 "$RUNS/lc/jd-step-220"
[ -f "$RUNS/eval-c-lc/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 40 --model smollm2-135m --model "$RUNS/lc/ro-step-80" \
    --model "$RUNS/lc/ro-step-160" --model "$RUNS/lc/jd-step-80" --model "$RUNS/lc/jd-step-160" \
    --model "$RUNS/lc/jd-step-220" --rankers bm25 --no-answer --out "$RUNS/eval-c-lc"
echo "done: $RUNS/eval-*"
