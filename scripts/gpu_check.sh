#!/usr/bin/env bash
# GPU check of the paper recipe's path, offline, on the GPU machine (docs/gpu.md says how to run it):
#   Unsloth 4-bit load of a random Llama-3-shaped model (real Llama 3 8B tokenizer), 30 QLoRA steps,
#   16-bit merge (checked by hand), P(True) in 4 and 16 bit with their agreement, peak VRAM, tokens/s
#   against plain transformers + peft on the same blend; ends `RESULT: PASS` or `RESULT: FAIL`.
# It uses the machine's own python3 and torch; the missing packages come from the wheel bundles that
# scripts/gpu_wheels.sh made (.whl/a, .whl/b; each call carries one), installed with
# `pip install --no-index --no-deps --target .gpu-site`. A call that completes the install runs the check.
# Usage: scripts/gpu_check.sh [OUT_DIR]   (env: PYTHON, BUDGET_S=480, and scripts/gpu_check.py's options
#        through GPU_CHECK_ARGS, e.g. "--hidden 4096 --layers 8")
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SITE=.gpu-site
WORK=${1:-gpu-check-out}
BUDGET_S=${BUDGET_S:-480}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export UNSLOTH_DISABLE_STATISTICS=1 HF_HUB_ENABLE_HF_TRANSFER=0 PYTHONUNBUFFERED=1
export RANKRAG_LITE_CACHE=$PWD/$WORK/cache

mkdir -p "$SITE" "$WORK"
for b in a b; do
  if [[ -d .whl/$b && ! -f $SITE/.bundle-$b ]]; then
    "$PY" -m pip install -q --no-index --no-deps --target "$SITE" .whl/$b/*.whl
    if [[ -f .whl/$b/llama3-8b-tokenizer/tokenizer.json.gz ]]; then
      "$PY" scripts/gpu_bundle.py unpack .whl/$b/llama3-8b-tokenizer "$SITE/llama3-8b-tokenizer"
    fi
    touch "$SITE/.bundle-$b"
    echo "installed .whl/$b into $SITE"
  fi
done
for b in a b; do
  if [[ ! -f $SITE/.bundle-$b ]]; then
    echo "bundle .whl/$b is not installed yet: run again carrying .whl/$b (on the same warm machine)"
    exit 3
  fi
done
export PYTHONPATH=$PWD/$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}

"$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("error: no CUDA GPU visible to torch " + torch.__version__)
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
PYEOF

set +e
# shellcheck disable=SC2086
# gpu_check.py keeps 40 s of the budget in hand (its own deadline shares the time among its finetune
# children); past BUDGET_S `timeout` sends SIGTERM, on which gpu_check.py kills its children's process
# groups (they run in their own sessions) before it exits; SIGKILL 30 s later if anything hangs.
timeout --kill-after=30 "$BUDGET_S" "$PY" scripts/gpu_check.py --tokenizer "$SITE/llama3-8b-tokenizer" \
  --out "$WORK" --budget-s $((BUDGET_S - 40)) ${GPU_CHECK_ARGS:-} > "$WORK/gpu_check.log" 2>&1
rc=$?
set -e
tail -n 80 "$WORK/gpu_check.log"
if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
  cp "$WORK/gpu_check.log" "$OUT/" && { cp "$WORK/gpu_check.json" "$WORK"/finetune-*.log "$OUT/" 2>/dev/null || true; }
fi
if (( rc == 124 || rc == 137 || rc == 143 )); then echo "timed out after ${BUDGET_S}s"; echo "RESULT: FAIL"; exit 1; fi
grep -q '^RESULT: ' "$WORK/gpu_check.log" || echo "RESULT: FAIL"
exit $rc
