#!/usr/bin/env bash
# The README's "Quick start on a GPU", rehearsed on CPU: the same rankrag-lite commands in the same
# order, with only the amounts of training changed: Stage 2's blend size (build-blend --size 16: the
# recipe's 211,200 rows would take minutes to tokenise on CPU) and 2 steps per stage (finetune
# --max-steps 2). tests/test_quickstart.py checks that the commands below equal the README's but for
# these, listed there. The hub names resolve offline to stand-ins built by
# tests/hub_mirror.py: the recipe's datasets in their hub layouts (RANKRAG_LITE_HUB_MIRROR), and
# `unsloth/llama-3-8b` as a tiny random model shaped like Llama 3 8B (GQA, rope theta 500k, untied
# head, bf16 shards, Meta's real base tokenizer) in an offline hub cache (HF_HOME, HF_HUB_OFFLINE=1).
# Training runs on Unsloth's CPU path with the recipe's load_in_4bit (NF4 through bitsandbytes' CPU
# backend); Stage 2 starts from Stage 1's merge; rag loads the Stage-2 merge in NF4.
# The README's clone and install lines are not rehearsed (the kit is installed already; the install
# command is checked by tests/test_gpu_install.py).
#
#   bash scripts/rehearse_quickstart.sh WORKDIR      (WORKDIR: a new or empty folder; ~3 min on 2 cores)
# Python: $PYTHON (default: python3 on PATH), with the kit importable (make setup's .venv).
set -euo pipefail

WORK=${1:?usage: rehearse_quickstart.sh WORKDIR}
KIT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
if [ -n "$(ls -A "$WORK")" ]; then
    echo "error: $WORK is not empty" >&2
    exit 2
fi

"$PYTHON" "$KIT/tests/hub_mirror.py" --mirror "$WORK/hub-mirror" --hf-home "$WORK/hf-home" >/dev/null
export RANKRAG_LITE_HUB_MIRROR="$WORK/hub-mirror" HF_HOME="$WORK/hf-home" HF_HUB_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 HF_DATASETS_CACHE="$WORK/hf-datasets-cache" TOKENIZERS_PARALLELISM=false \
    CUDA_VISIBLE_DEVICES=""
rankrag-lite() { "$PYTHON" -m rankrag_lite "$@"; }

# the user's clone: the kit's recipes at the relative paths the README uses
mkdir "$WORK/clone"
ln -s "$KIT/recipes" "$WORK/clone/recipes"
cd "$WORK/clone"
set -x
# --- README quick start ---
rankrag-lite build-blend --recipe recipes/llama3-8b.yaml --out runs/blend --size 16
rankrag-lite finetune --stage 1 --recipe recipes/llama3-8b-qlora.yaml --data runs/blend/sft.jsonl \
    --out runs/s1 --max-steps 2
rankrag-lite finetune --stage 2 --recipe recipes/llama3-8b-qlora.yaml --model runs/s1 \
    --data runs/blend/blend.jsonl --out runs/s2 --max-steps 2
rankrag-lite index --corpus rajpurkar/squad --split validation --out runs/index
rankrag-lite rag --index runs/index --model runs/s2/merged --questions rajpurkar/squad --split validation \
    --limit 500 --n 100 --k 5 --load-in-4bit --out runs/rag
# --- end of the README quick start ---
set +x

"$PYTHON" - <<'EOF'
"""What the rehearsal must have produced: both merges in bf16, rag's answers for every question."""
import json
from pathlib import Path

from safetensors import safe_open

for stage in ("s1", "s2"):
    shards = sorted(Path(f"runs/{stage}/merged").glob("*.safetensors"))
    assert shards, f"runs/{stage}/merged has no safetensors"
    dtypes = set()
    for shard in shards:
        with safe_open(str(shard), "pt") as f:
            dtypes |= {str(f.get_slice(k).get_dtype()) for k in f.keys()}
    assert dtypes == {"BF16"}, f"runs/{stage}/merged is not bf16: {sorted(dtypes)}"
    print(f"runs/{stage}/merged: {len(shards)} shard(s), dtypes {sorted(dtypes)}")
rows = [json.loads(line) for line in open("runs/rag/answers.jsonl", encoding="utf-8")]
summary = json.loads(Path("runs/rag/summary.json").read_text())
assert rows and len(rows) == summary["questions"], (len(rows), summary["questions"])
assert all(isinstance(r["prediction"], str) and r["answers"] for r in rows), rows[0]
print(f"runs/rag: {len(rows)} answers; {json.dumps(summary['answers'])}")
print("rehearsal: ok")
EOF
