# Sourced by the scripts/reproduce_*.sh scripts (`source scripts/reproduce_env.sh "$@"`): their two
# arguments (DATA_ROOT=../shared/data, RUNS=runs), the kit's venv on PATH and the dev sets' paths.
set -euo pipefail
DATA=${1:-../shared/data}
RUNS=${2:-runs}
export PATH="$PWD/.venv/bin:$PATH"
TWOWIKI=$DATA/multihop/twowiki_dev500_distractor.jsonl
DL19=$DATA/ranking/msmarco_dl19
# fusion rows ("model + BM25 fusion", never the model's number): W is chosen on these dev sets
FUSE=bm25:0.1,bm25:0.2,bm25:0.3,bm25:0.5,bm25:0.7
