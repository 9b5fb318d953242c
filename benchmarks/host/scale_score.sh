#!/usr/bin/env bash
# scale_score.sh - the scale run of `ifscore score` (a benchmark, never run by
# ctest): N and 10 x N generated records (default N = 500,000, so the big run
# streams 5 million) through the CPU path with a micro model, recording wall
# time, records/s, per-stage figures and peak RSS, to show that memory stays
# flat as the input grows 10x. Appends one JSON line per run to
# benchmarks/results/score_scale.jsonl; the 10x run carries rss_ratio_vs_1x,
# its peer figure (the 1x run measured in the same invocation).
#
# Usage: benchmarks/host/scale_score.sh [BUILD_DIR] [N]
# Needs: python3, the zstd CLI; about 1 GB free in $TMPDIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-500000}
BIN=$BUILD/ifscore
W=${TMPDIR:-/tmp}/ifs-scale-$$
RES=$ROOT/benchmarks/results/score_scale.jsonl
mkdir -p "$W" "$ROOT/benchmarks/results"
trap 'rm -rf "$W"' EXIT

per_shard=100000
make_data() { # make_data DIR RECORDS
  local shards=$(( ($2 + per_shard - 1) / per_shard ))
  python3 "$ROOT/benchmarks/host/gen_scale.py" "$1" "$2" "$shards"
  for f in "$1"/*.jsonl; do zstd -q --rm -3 "$f"; done
}
make_data "$W/x1" "$N"
make_data "$W/x10" $((N * 10))
"$BIN" gen-model --out "$W/model" --seed 1 --hidden 16 --layers 1 --heads 1 --intermediate 32 \
  --max-position 32 --init test --vocab "$W/x1/vocab.txt" > /dev/null

commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
rss1=""
for size in x1 x10; do
  [ "$size" = x1 ] && records=$N || records=$((N * 10))
  bytes=$(du -cb "$W/$size"/*.zst | tail -1 | cut -f1)
  start=$(date +%s.%N)
  "$BIN" score --model "$W/model" --out "$W/$size.json" --format none --no-progress --stats \
    --threads 1 --max-batch-tokens 65536 --max-batch-seqs 4096 --chunk-records 16384 \
    "$W/$size" 2> "$W/$size.stats"
  end=$(date +%s.%N)
  cat "$W/$size.stats"
  rss=$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$W/$size.stats")
  wall=$(echo "$end - $start" | bc)
  [ "$size" = x1 ] && rss1=$rss
  ratio=$(echo "scale=3; $rss / $rss1" | bc)
  stage() { sed -n "s/^  $1 *\([0-9.]*\).*/\1/p" "$W/$size.stats"; }
  line=$(printf '{"bench":"score_scale","date":"%s","machine":"%s","cpus":%s,"cpu":"%s","gpu":null,"commit":"%s","backend":"cpu","model":"gen-model hidden 16, 1 layer, 1 head, intermediate 32, seed 1","data":"gen_scale.py: %d records in %d zstd shards, %d bytes, 2-12 words each","records":%d,"wall_s":%.3f,"records_per_s":%.0f,"peak_rss_mib":%s,"rss_ratio_vs_1x":%s,"stage_s":{"hash":%s,"decompress":%s,"parse":%s,"tokenize":%s,"forward":%s,"reduce":%s}}' \
    "$(date -u +%FT%TZ)" "$(uname -n)" "$(nproc)" "$cpu" "$commit" "$records" \
    $(( (records + per_shard - 1) / per_shard )) "$bytes" "$records" "$wall" \
    "$(echo "$records / $wall" | bc)" "$rss" "$ratio" "$(stage hash)" "$(stage decompress)" \
    "$(stage parse)" "$(stage tokenize)" "$(stage forward)" "$(stage reduce)")
  echo "$line" >> "$RES"
  echo "$line"
done
