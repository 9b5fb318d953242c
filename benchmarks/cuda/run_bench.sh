#!/usr/bin/env bash
# run_bench.sh - the CUDA forward benchmark against its peer, on a GPU machine.
#
#   IFS_PYTHON=/path/to/python-with-torch-cuda bash benchmarks/cuda/run_bench.sh
#
# For MiniLM-L6 and BERT-base shapes, in f16 and bf16: our backend with one
# and two handles (two batches in flight), HF BertForSequenceClassification
# eager with SDPA, and the same under torch.compile, all on the same real
# token ids (a deterministic sample of the shared corpus), the same token
# budget, longest-first batches. One JSON line per (shape, dtype) is appended
# to benchmarks/results/cuda_forward.jsonl with every figure, the measured
# dense GEMM rate and MFU, and our throughput as a ratio of each peer's.
# Environment: BUILD (default build), DATA, TOK, N (sequences, default 20000),
# TOKENS (budget, default 16384), SHAPES, DTYPES.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${IFS_PYTHON:-.venv/bin/python}
BUILD=${BUILD:-build}
DATA=${DATA:-../shared/data/alpaca_eval_outputs}
TOK=${TOK:-.cache/models/all-MiniLM-L6-v2}
N=${N:-20000}
TOKENS=${TOKENS:-16384}
SHAPES=${SHAPES:-"minilm bert-base"}
DTYPES=${DTYPES:-"f16 bf16"}
OUT=benchmarks/results/cuda_forward.jsonl
BENCH=$BUILD/benchmarks/cuda/bench_cuda_forward
HF=benchmarks/cuda/bench_hf.py

"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "torch has no CUDA device")'
[ -x "$BENCH" ] || cmake --build "$BUILD" -j"$(nproc)" --target bench_cuda_forward
mkdir -p benchmarks/results
ids=$BUILD/bench-ids-$N.bin
[ -f "$ids" ] || "$PY" "$HF" ids --data "$DATA" --tokenizer "$TOK" --n "$N" --out "$ids" >&2

for shape in $SHAPES; do
  for dt in $DTYPES; do
    common=(--ids "$ids" --shape "$shape" --dtype "$dt" --max-batch-tokens "$TOKENS")
    ours2=$("$BENCH" "${common[@]}" --handles 2)
    ours1=$("$BENCH" "${common[@]}" --handles 1)
    eager=$("$PY" "$HF" forward "${common[@]}" | tail -1)
    comp=$("$PY" "$HF" forward "${common[@]}" --compile | tail -1)
    "$PY" - "$ours2" "$ours1" "$eager" "$comp" >> "$OUT" <<'PYEOF'
import json, sys
ours2, ours1, eager, comp = (json.loads(x) for x in sys.argv[1:5])
row = dict(ours2)
row["seqs_per_s_one_handle"] = ours1["seqs_per_s"]
row["peers"] = {"hf_eager_sdpa": eager, "hf_compile": comp}
row["ratio_vs_hf_eager_sdpa"] = round(ours2["seqs_per_s"] / eager["seqs_per_s"], 3)
row["ratio_vs_hf_compile"] = round(ours2["seqs_per_s"] / comp["seqs_per_s"], 3)
print(json.dumps(row))
sys.stderr.write("%-10s %-5s ours %9.1f seq/s (1 handle %9.1f)  MFU %.3f  hf-eager %9.1f  hf-compile %9.1f  ratio %.2fx / %.2fx\n" % (
    row["shape"], row["dtype"], ours2["seqs_per_s"], ours1["seqs_per_s"], ours2["mfu"],
    eager["seqs_per_s"], comp["seqs_per_s"], row["ratio_vs_hf_eager_sdpa"], row["ratio_vs_hf_compile"]))
PYEOF
  done
done
echo "appended to $OUT" >&2
