#!/usr/bin/env bash
# Reproduce docs/results.md: the tiny recipe's blend, its Stage-2 run, the evaluations and the plots.
# About 2 h of training (two passes) plus about 70 min of evaluation (35 of them DL19 at depth 100) on an
# idle 2-core CPU; run it alone
# (parallel torch jobs slow each other down 5-10x). Each step is skipped when its output exists,
# so the script can be re-run after an interruption (finetune itself resumes with --resume).
#
#   bash scripts/reproduce_tiny.sh [DATA_ROOT=../shared/data] [RUNS=runs]
#
# The evaluations rank with the adapter in rankrag_lite/assets/smollm2-135m-rankrag (the alias
# smollm2-135m-rankrag); SHIP=1 first copies this run's adapter there.
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS, TWOWIKI, DL19, FUSE; the venv on PATH
FT=smollm2-135m-rankrag

[ -f "$RUNS/blend-v2/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/tiny-cpu.yaml --data-root "$DATA" --out "$RUNS/blend-v2"

if [ ! -f "$RUNS/tiny-v2/summary.json" ]; then
  resume=""; [ -d "$RUNS/.tiny-v2.work/checkpoints" ] && resume="--resume"
  rankrag-lite finetune --stage 2 --recipe recipes/tiny-cpu.yaml --data "$RUNS/blend-v2/blend.jsonl" \
    --out "$RUNS/tiny-v2" $resume
fi

if [ "${SHIP:-0}" = 1 ]; then python scripts/ship_tiny.py copy --run "$RUNS/tiny-v2"; fi

# 2Wiki dev distractor, first 100 questions: baselines, zero-shot, fine-tuned; answers from both top-5s
[ -f "$RUNS/eval-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model smollm2-135m --model $FT \
    --rankers bm25,minilm,random --fuse $FUSE --answer-from bm25,$FT --answer-model $FT --out "$RUNS/eval-2wiki100"

# the length artefact of the 2Wiki dev set: the longest passage first (no model; seconds)
[ -f "$RUNS/eval-2wiki100-longest/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --rankers longest,bm25,random --out "$RUNS/eval-2wiki100-longest"

# how much of each ranking is passage length (gold vs longer / shorter negatives)
python scripts/length_pairwise.py --data "$TWOWIKI" --eval "$RUNS/eval-2wiki100"

# the test's subset (tests/fixtures/inference/twowiki_dev20.jsonl = the first 20 questions)
[ -f "$RUNS/eval-fixture20/metrics.json" ] || \
  rankrag-lite evaluate --data tests/fixtures/inference/twowiki_dev20.jsonl --model $FT \
    --rankers bm25,random --no-answer --out "$RUNS/eval-fixture20"

# learning curve: the saved checkpoints on the first 40 questions
if [ ! -f "$RUNS/eval-lc/metrics.json" ]; then
  models=()
  for s in 40 80 120 160; do models+=(--model "$RUNS/tiny-v2/snapshots/step-$s"); done
  rankrag-lite evaluate --data "$TWOWIKI" --limit 40 "${models[@]}" --rankers random --no-answer \
    --out "$RUNS/eval-lc"
fi
python scripts/length_pairwise.py --data "$TWOWIKI" --eval "$RUNS/eval-lc"

# held-out pairs of the training pools (built but not in the trained blend): P(True) AUC per source
[ -f "$RUNS/probe-heldout.json" ] || \
  python scripts/probe_blend_auc.py --blend "$RUNS/blend-v2/ranking.jsonl" --not-in "$RUNS/blend-v2/blend.jsonl" \
    --sources hotpotqa,musique,nq,squad --per-source 100 --model smollm2-135m --model $FT \
    --out "$RUNS/probe-heldout.json"
[ -f "$RUNS/probe-trained.json" ] || \
  python scripts/probe_blend_auc.py --blend "$RUNS/blend-v2/blend.jsonl" --sources hotpotqa,musique,nq,squad \
    --per-source 100 --model $FT --out "$RUNS/probe-trained.json"

# TREC DL19: all 43 queries, the first DL19_DEPTH (default 30) of the BM25 top-100 reranked, then
# the full top-100 (4,300 prompts per model, about 16 min each on this CPU)
DEPTH=${DL19_DEPTH:-30}
[ -f "$RUNS/eval-dl19-top$DEPTH/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth "$DEPTH" \
    --model smollm2-135m --model $FT --rankers given,minilm,random --no-answer --out "$RUNS/eval-dl19-top$DEPTH"

[ -f "$RUNS/eval-dl19-top$DEPTH-longest/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth "$DEPTH" \
    --rankers longest,given --out "$RUNS/eval-dl19-top$DEPTH-longest"

[ -f "$RUNS/eval-dl19-top100/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 100 \
    --model $FT --model smollm2-135m --rankers given,minilm,random,longest --fuse $FUSE --no-answer \
    --out "$RUNS/eval-dl19-top100"

# the shipped adapter's metrics.json (the test reproduces its fixture numbers) and the learning curve
python scripts/ship_tiny.py metrics --evals "$RUNS/eval-fixture20" "$RUNS/eval-2wiki100" "$RUNS/eval-dl19-top$DEPTH" \
  "$RUNS/eval-dl19-top100"
python scripts/learning_curve.py --run "$RUNS/tiny-v2" --point 0="$RUNS/eval-2wiki100:smollm2-135m" \
  $(for s in 40 80 120 160; do echo --point $s="$RUNS/eval-lc:step-$s"; done) \
  --point final="$RUNS/eval-2wiki100:$FT" --baseline "$RUNS/eval-2wiki100:bm25" \
  --baseline "$RUNS/eval-2wiki100:minilm" --baseline "$RUNS/eval-2wiki100:random" \
  --baseline "$RUNS/eval-2wiki100-longest:longest" \
  --metric Recall@2 --metric MRR@10 --title "2Wiki dev distractor: learning curve of recipes/tiny-cpu.yaml" \
  --out docs/img/learning_curve.png
echo "done: $RUNS/eval-2wiki100 $RUNS/eval-fixture20 $RUNS/eval-lc $RUNS/eval-dl19-top$DEPTH $RUNS/eval-dl19-top100"
