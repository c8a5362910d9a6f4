#!/usr/bin/env bash
# The installed wheel works on its own: build it, install it into a fresh venv, run the CLI from there
# (`--help` and one rerank with the adapter shipped inside the wheel), never the working tree.
#
# Speed: the fresh venv does not reinstall torch / transformers / ...: it is created without system
# site-packages and gets the dependencies of $VENV (make setup's) through a .pth path line; the kit
# itself goes in from the wheel with --no-deps. A path line does not run $VENV's own .pth files, so
# $VENV's editable install of the kit is not seen: the checks below make sure the wheel is what runs.
set -euo pipefail
VENV=${VENV:-.venv}
ROOT=$(pwd)
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PYBIN="$VENV/bin/python"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rankrag-wheel-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$PYBIN" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" "$ROOT"
WHEEL=$(ls "$WORK"/dist/rankrag_lite-*.whl)
# Read the listing in Python, not through `zipfile -l | grep -q`: grep -q stops at the first match,
# the lister then dies of a broken pipe, and pipefail fails the step on a wheel that has the file.
"$PYBIN" - "$WHEEL" <<'PY' || { echo "wheel-smoke: the shipped adapter is not in $WHEEL" >&2; exit 1; }
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
sys.exit(0 if "rankrag_lite/assets/smollm2-135m-rankrag/adapter_model.safetensors" in names else 1)
PY

"$PYBIN" -m venv --without-pip "$WORK/venv"
SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$PYBIN" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$SITE/rankrag-deps.pth"
"$PYBIN" -m pip --python "$WORK/venv/bin/python" install -q --no-deps --no-index "$WHEEL"

cd "$WORK"   # not the repository: nothing of the working tree is importable from here
"$WORK/venv/bin/python" - "$WORK/venv" <<'PY'
import sys
import rankrag_lite
from rankrag_lite.modeling.loading import shipped_adapter_dir
where = rankrag_lite.__file__
assert where.startswith(sys.argv[1]), f"rankrag_lite imported from {where}, not from the installed wheel"
assert shipped_adapter_dir() is not None and str(shipped_adapter_dir()).startswith(sys.argv[1])
print(f"wheel-smoke: rankrag_lite {rankrag_lite.__version__} from {where}")
PY
"$WORK/venv/bin/rankrag-lite" --help > help.txt
grep -q "rerank" help.txt
cat > cands.jsonl <<'JSON'
{"qid": "q1", "question": "Who wrote Hamlet?", "passages": [{"pid": "everest", "title": "", "text": "Mount Everest is Earth's highest mountain above sea level."}, {"pid": "hamlet", "title": "", "text": "Hamlet is a tragedy written by William Shakespeare between 1599 and 1601."}]}
JSON
RANKRAG_LITE_QUIET=1 HF_HUB_OFFLINE=1 "$WORK/venv/bin/rankrag-lite" rerank --model smollm2-135m-rankrag \
  --input cands.jsonl --out reranked.jsonl
read -r first _ < <(awk '{print $3}' reranked.trec)
[ "$first" = "hamlet" ] || { echo "wheel-smoke: the installed model ranked '$first' first" >&2; exit 1; }
echo "wheel-smoke: --help and rerank from the installed wheel OK (top: $first)"
