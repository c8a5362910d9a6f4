#!/usr/bin/env bash
# Download what scripts/gpu_check.sh needs on the GPU machine into the git-ignored .whl/, offline-ready.
#
# The GPU machine (Python 3.12, torch 2.11 / CUDA 13, transformers 5.17, peft, accelerate, triton,
# pyarrow, pandas, typer, rich, ...) lacks bitsandbytes, Unsloth, TRL, datasets and a few small
# packages; they travel as Python 3.12 manylinux wheels (--no-deps: exactly these, nothing pulled in).
# Measured 2026-12-01: 83.5 MB in all (bitsandbytes 43.1 MB, unsloth 28.6 MB), more than one device
# call carries beside the 20.5 MiB working tree (64 MiB a call). So they come in two bundles, each
# under 60 MiB and each fitting one call with the tree:
#   .whl/a: bitsandbytes            .whl/b: everything else + the Llama 3 8B base tokenizer (gzipped)
# gpu_check.sh installs whichever bundle a call carries into the ignored .gpu-site/, which stays on a
# warm machine for the next call (docs/gpu.md).
# Fails (exit 1) when a bundle exceeds 60 MiB or a bundle plus the tracked tree exceeds 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TOKENIZER=${TOKENIZER:-../shared/models/llama3-8b-tokenizer}
LIMIT_MIB=${LIMIT_MIB:-60}
A=(bitsandbytes==0.50.2)
B=(unsloth==2026.10.9 unsloth_zoo==2026.10.9 trl==1.15.0 datasets==4.8.5 dill==0.4.1
   multiprocess==0.70.19 tyro==1.0.17 docstring_parser==0.18.0 typeguard==4.6.1 msgspec==0.23.0
   hf_transfer==0.1.9 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
   typing-inspection==0.4.5 json5==0.17.3 structlog==26.1.0 nest-asyncio==1.6.0)
PLAT=(--only-binary=:all: --no-deps --python-version 3.12 --implementation cp --abi cp312
      --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any)

rm -rf .whl.part && mkdir -p .whl.part/a .whl.part/b
"$PY" -m pip download -q "${PLAT[@]}" -d .whl.part/a "${A[@]}"
"$PY" -m pip download -q "${PLAT[@]}" -d .whl.part/b "${B[@]}"
# the tokenizer's bundle layout has one home, scripts/gpu_bundle.py (the CPU test packs with it too)
"$PY" scripts/gpu_bundle.py pack "$TOKENIZER" .whl.part/b/llama3-8b-tokenizer || exit 2

tree_b=$(git ls-files -z | xargs -0 stat -c %s | awk '{s+=$1} END {print s}')
status=0
for b in a b; do
  size=$(du -sb ".whl.part/$b" | cut -f1)
  awk -v b="$b" -v s="$size" -v t="$tree_b" \
    'BEGIN {printf ".whl/%s: %.1f MiB (with the tracked tree: %.1f MiB)\n", b, s/1048576, (s+t)/1048576}'
  if (( size > LIMIT_MIB * 1048576 )); then echo "error: .whl/$b is over $LIMIT_MIB MiB" >&2; status=1; fi
  if (( size + tree_b > 64 * 1048576 )); then echo "error: .whl/$b and the tree are over 64 MiB" >&2; status=1; fi
done
(( status == 0 )) || exit 1
rm -rf .whl && mv .whl.part .whl
echo "ok: .whl/a and .whl/b ready; see docs/gpu.md"
