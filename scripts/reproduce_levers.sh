#!/usr/bin/env bash
# Reproduce the issue-12 lever runs of docs/results.md ("Levers at equal data"): two passes of LoRA at a
# constant rate, and full fine-tuning, over the same 1,000 rows of the tiny blend; their 2Wiki (first 40)
# and DL19 (top-30) evaluations. About 48 + 30 min of training and 25 min of evaluation on an idle
# 2-core CPU; run it alone. Each step is skipped when its output exists.
#
#   bash scripts/reproduce_levers.sh [DATA_ROOT=../shared/data] [RUNS=runs]
source "$(dirname "$0")/reproduce_env.sh" "$@"   # DATA, RUNS, TWOWIKI, DL19, FUSE; the venv on PATH
A=$RUNS/lora-constant-2ep
B=$RUNS/full-constant-1ep

[ -f "$RUNS/blend-v2/blend.jsonl" ] || \
  rankrag-lite build-blend --recipe recipes/tiny-cpu.yaml --data-root "$DATA" --out "$RUNS/blend-v2"
head -n 1000 "$RUNS/blend-v2/blend.jsonl" > "$RUNS/blend-v2/first1000.jsonl"   # the blend is shuffled

for v in lora-constant-2ep full-constant-1ep; do
  [ -f "$RUNS/$v/summary.json" ] && continue
  resume=""; [ -d "$RUNS/.$v.work/checkpoints" ] && resume="--resume"
  rankrag-lite finetune --stage 2 --recipe recipes/levers/$v.yaml --data "$RUNS/blend-v2/first1000.jsonl" \
    --out "$RUNS/$v" $resume
done

[ -f "$RUNS/eval-lever-2wiki40/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 40 \
    $(for s in 20 40 60 80 100 126; do echo --model $A/snapshots/step-$s; done) --model $B \
    --rankers bm25,random --no-answer --out "$RUNS/eval-lever-2wiki40"
[ -f "$RUNS/eval-lever-dl19-top30/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 30 \
    --model $A/snapshots/step-60 --model $A/snapshots/step-126 --model $B --rankers given,random --no-answer \
    --out "$RUNS/eval-lever-dl19-top30"
python scripts/length_pairwise.py --data "$TWOWIKI" --eval "$RUNS/eval-lever-2wiki40"    # length-neutral pairs
python scripts/length_pairwise.py --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 30 \
  --eval "$RUNS/eval-lever-dl19-top30"
# the curve: docs/img/levers_2wiki40.png (the shipped and MS MARCO curves come from their own runs' JSON)
python scripts/learning_curve.py --run $A $(for s in 20 40 60 80 100; do echo --point $s=$RUNS/eval-lever-2wiki40:step-$s; done) \
  --point final=$RUNS/eval-lever-2wiki40:step-126 --baseline $RUNS/eval-lever-2wiki40:bm25 \
  --baseline $RUNS/eval-lever-2wiki40:random --metric Recall@2 --metric MRR@10 \
  --label "LoRA, constant lr, 2 passes over 870 pairs" \
  --also docs/img/learning_curve.json="shipped: LoRA, cosine, 1 pass over 2,431 pairs" \
  --title "Levers on 2Wiki dev (first 40 questions)" --out $RUNS/levers_2wiki40.png

# --- C: recipes/tiny-cpu.yaml as it stands now: two passes over the whole tiny blend, warmup-stable-
# decay, shared system head (about 2 h of training on this machine, then about 25 min of evaluation);
# docs/results.md, the session-6 summary. The DL19 top-100 and 2Wiki 100-question rows decide whether it is shipped.
C=$RUNS/lora-wsd-2ep-whole
if [ ! -f "$C/summary.json" ]; then
  resume=""; [ -d "$RUNS/.lora-wsd-2ep-whole.work/checkpoints" ] && resume="--resume"
  rankrag-lite finetune --stage 2 --recipe recipes/tiny-cpu.yaml \
    --data "$RUNS/blend-v2/blend.jsonl" --out "$C" $resume
fi
[ -f "$RUNS/eval-wsd-dl19-top100/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 100 --model $C \
    --rankers given,random --fuse bm25:0.5 --fuse bm25:0.7 --no-answer --out "$RUNS/eval-wsd-dl19-top100"
[ -f "$RUNS/eval-wsd-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model $C --rankers bm25,random \
    --fuse bm25:0.5 --fuse bm25:0.7 --no-answer --out "$RUNS/eval-wsd-2wiki100"
python scripts/length_pairwise.py --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 100 \
  --eval "$RUNS/eval-wsd-dl19-top100"
python scripts/length_pairwise.py --data "$TWOWIKI" --eval "$RUNS/eval-wsd-2wiki100"
# the learning curve: snapshots of the flat part (steps 20-216) and of the decay, first 40 questions
[ -f "$RUNS/eval-wsd-2wiki40/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 40 \
    $(for s in 60 140 200 260; do echo --model $C/snapshots/step-$s; done) --model $C \
    --rankers bm25,random --no-answer --out "$RUNS/eval-wsd-2wiki40"

# --- D: a third pass (docs/results.md, session 7): one more WSD pass from the shipped adapter over the same
# blend (about 35 min of training on the idle machine), 2Wiki 1-100 and DL19 top-100, and its curve on the
# first 40 2Wiki questions.
D=$RUNS/lora-wsd-3rd-pass
[ -f "$D/summary.json" ] || \
  rankrag-lite finetune --stage 2 --recipe recipes/levers/lora-wsd-3rd-pass.yaml \
    --data "$RUNS/blend-v2/blend.jsonl" --out "$D"
[ -f "$RUNS/eval-3rd-2wiki100/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 100 --model $D --rankers bm25 --no-answer \
    --significance bm25 --out "$RUNS/eval-3rd-2wiki100"
[ -f "$RUNS/eval-3rd-dl19/metrics.json" ] || \
  rankrag-lite evaluate --data "$DL19/bm25_top100.json" --qrels "$DL19/qrels.txt" --depth 100 --model $D \
    --rankers given --no-answer --significance given --out "$RUNS/eval-3rd-dl19"
[ -f "$RUNS/eval-3rd-2wiki40/metrics.json" ] || \
  rankrag-lite evaluate --data "$TWOWIKI" --limit 40 \
    $(for s in 40 80 120; do echo --model $D/snapshots/step-$s; done) --model $D --model smollm2-135m-rankrag \
    --rankers bm25,random --no-answer --out "$RUNS/eval-3rd-2wiki40"
E=$RUNS/eval-3rd-2wiki40
python scripts/learning_curve.py --run $D --point 0=$E:smollm2-135m-rankrag --point 40=$E:step-40 \
  --point 80=$E:step-80 --point 120=$E:step-120 --point final=$E:lora-wsd-3rd-pass \
  --baseline $E:bm25 --baseline $E:random --metric Recall@2 --metric MRR@10 \
  --label "third pass (from the shipped adapter)" --title "A third WSD pass on 2Wiki dev (first 40 questions)" \
  --out $RUNS/lever_third_pass_2wiki40.png
