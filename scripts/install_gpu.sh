#!/usr/bin/env bash
# The GPU install, the one the README's quick start and the notebooks run: the kit and Unsloth on the
# CUDA torch the machine already has (Colab's, or one you installed from pytorch.org), never replacing it.
#
#   bash scripts/install_gpu.sh [EXTRA ...]     e.g. `bash scripts/install_gpu.sh dense` (notebook 3)
#
# It follows Unsloth's own Colab install cell (unslothai/notebooks, e.g. nb/Llama3.1_(8B)-Alpaca.ipynb:
# `pip install --no-deps ... unsloth_zoo`, then the plain dependencies, then `pip install --no-deps
# unsloth`): unsloth 2026.10.9 and unsloth_zoo require torch, an unpinned torchvision, xformers, triton,
# diffusers and torchao, and pip would replace the machine's CUDA torch to satisfy them. So:
#   1. the kit with its pins (transformers, TRL, peft, datasets, accelerate, bitsandbytes) and the `gpu`
#      extra (the pure-Python packages Unsloth imports): nothing there asks for another torch;
#   2. unsloth, unsloth_zoo and cut_cross_entropy with --no-deps.
# Not installed: xformers (optional in Unsloth, which then uses PyTorch's attention; its wheels are built
# for one torch version each: `unsloth install-kernels xformers` picks the matching one), triton (the
# CUDA torch wheel brings its own), diffusers and torchao (image models / float8; not used here).
# Env: PYTHON (default python3); RANKRAG_LITE_INSTALL_DRY_RUN=DIR resolves each step without installing
# (pip --dry-run --report DIR/step<N>.json: what tests/test_gpu_install.py checks).
set -euo pipefail

KIT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
UNSLOTH_NO_DEPS=(unsloth==2026.10.9 unsloth_zoo==2026.10.9 cut_cross_entropy==25.1.1)
extras=gpu
for e in "$@"; do extras="$extras,$e"; done

if ! torch_before=$("$PYTHON" -c "import torch; print(torch.__version__)" 2>/dev/null); then
    echo "error: no torch in $PYTHON: install the CUDA build of torch for this machine first (pytorch.org; Colab has one)" >&2
    exit 2
fi
step=0
pip_install() {
    step=$((step + 1))
    if [ -n "${RANKRAG_LITE_INSTALL_DRY_RUN:-}" ]; then
        "$PYTHON" -m pip install -q --dry-run --report "$RANKRAG_LITE_INSTALL_DRY_RUN/step$step.json" "$@"
    else
        "$PYTHON" -m pip install -q "$@"
    fi
}
pip_install -e "$KIT[$extras]"
pip_install --no-deps "${UNSLOTH_NO_DEPS[@]}"
torch_after=$("$PYTHON" -c "import torch; print(torch.__version__)")
if [ "$torch_after" != "$torch_before" ]; then
    echo "error: torch changed from $torch_before to $torch_after during the install" >&2
    exit 1
fi
echo "installed rankrag-lite[$extras] and ${UNSLOTH_NO_DEPS[*]} on torch $torch_after"
