#!/usr/bin/env bash
# The in-domain MS MARCO lever of docs/results.md: recipes/tiny-cpu-msmarco.yaml (MS MARCO dev-small
# pairs + TREC DL21 judged pairs), its Stage-2 run and the evaluations with fusion rows. About 55 min
# of training and 25 min of evaluation on an idle 2-core CPU; run it alone.
#
#   bash scripts/reproduce_msmarco_lever.sh [DATA_ROOT=../shared/data] [RUNS=runs]
#
# The measured run (2026-12-01) was started for one 203-step pass and cut to the recipe's 160 steps
# at step 100 (--resume with the new max_steps), so its first 100 steps followed the 203-step cosine.
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS, TWOWIKI, DL19, FUSE; the venv on PATH
R=recipes/tiny-cpu-msmarco.yaml
FT=$RUNS/tiny-v3/adapter

[ -f "$RUNS/blend-v3/blend.jsonl" ] || rankrag-lite build-blend --recipe $R --data-root "$DATA" --out "$RUNS/blend-v3"
if [ ! -f "$RUNS/tiny-v3/summary.json" ]; then
  resume=""; [ -d "$RUNS/.tiny-v3.work/checkpoints" ] && resume="--resume"
  rankrag-lite finetune --stage 2 --recipe $R --data "$RUNS/blend-v3/blend.jsonl" --out "$RUNS/tiny-v3" $resume
fi
[ -f "$RUNS/eval-v3-fixture20/metrics.json" ] || rankrag-lite evaluate --data tests/fixtures/inference/twowiki_dev20.jsonl \
  --model $FT --rankers bm25,random --no-answer --out "$RUNS/eval-v3-fixture20"
[ -f "$RUNS/eval-v3-dl19-top100/metrics.json" ] || rankrag-lite evaluate --data "$DL19/bm25_top100.json" \
  --qrels "$DL19/qrels.txt" --depth 100 --model $FT --rankers given,random,longest --fuse $FUSE --no-answer \
  --out "$RUNS/eval-v3-dl19-top100"
[ -f "$RUNS/eval-v3-2wiki100/metrics.json" ] || rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model $FT \
  --rankers bm25,random,longest --fuse $FUSE --no-answer --out "$RUNS/eval-v3-2wiki100"
python scripts/length_pairwise.py --data "$TWOWIKI" --eval "$RUNS/eval-v3-2wiki100"
# learning curve point: the step-80 snapshot on the first 40 2Wiki questions
[ -f "$RUNS/eval-v3-lc/metrics.json" ] || rankrag-lite evaluate --data "$TWOWIKI" --limit 40 \
  --model "$RUNS/tiny-v3/snapshots/step-80" --rankers random --no-answer --out "$RUNS/eval-v3-lc"
