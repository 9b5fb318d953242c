#!/usr/bin/env bash
# run_e2e.sh - end to end on a GPU machine: `ifscore score --backend cuda`
# against the HF peer (bench_hf.py e2e: decompress, parse, tokenize, forward,
# argmax in Python) over the same shards and checkpoint.
#
#   IFS_PYTHON=... bash benchmarks/cuda/run_e2e.sh MODEL_DIR SHARD...
#
# MODEL_DIR must be a BertForSequenceClassification checkpoint (e.g. from
# `ifscore gen-model` or `ifscore train-head`); shards are .jsonl(.zst) with a
# `response` field. Appends one JSON line to benchmarks/results/cuda_e2e.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: $0 MODEL_DIR SHARD..." >&2; exit 2; }
PY=${IFS_PYTHON:-.venv/bin/python}
BUILD=${BUILD:-build}
model=$1; shift
tmp=$(mktemp -d)
t0=$(date +%s.%N)
"$BUILD/ifscore" score --backend cuda --model "$model" --format none --no-progress \
    --out "$tmp/report.json" "$@"
t1=$(date +%s.%N)
peer=$("$PY" benchmarks/cuda/bench_hf.py e2e --model "$model" --shards "$@" | tail -1)
mkdir -p benchmarks/results
"$PY" - "$tmp/report.json" "$t0" "$t1" "$peer" "$(git rev-parse --short=12 HEAD)" >> benchmarks/results/cuda_e2e.jsonl <<'PYEOF'
import json, sys
report = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
peer = json.loads(sys.argv[4])
n = peer["n_seqs"]
row = {"bench": "cuda_e2e", "commit": sys.argv[5], "gpu": peer["gpu"], "model": peer["shape"],
       "n_seqs": n, "n_tokens": peer["n_tokens"], "seconds": round(secs, 3),
       "seqs_per_s": round(n / secs, 1), "peer": peer,
       "ratio_vs_hf_eager_sdpa": round((n / secs) / peer["seqs_per_s"], 3),
       "report_counts": report.get("counts", report.get("totals"))}
print(json.dumps(row))
sys.stderr.write("ifscore %.1f seq/s, hf %.1f seq/s, ratio %.2fx\n" % (row["seqs_per_s"], peer["seqs_per_s"], row["ratio_vs_hf_eager_sdpa"]))
PYEOF
rm -rf "$tmp"
