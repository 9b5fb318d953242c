#!/usr/bin/env bash
# pipeline.sh - issue 15's proof: `ifscore score` over the imported
# AlpacaEval corpus with a tiny model (hidden 32, 1 layer) at --max-len 64,
# against the decompression floor (`zstd -dc` over the same shards), best of
# 3 each, with --threads 1 and 2. Appends one JSON line per thread count to
# benchmarks/results/pipeline.jsonl: ratio to the floor, per-stage rates
# (from --stats), user+sys CPU seconds of the best run, threads, machine,
# load average, commit.
# Usage: benchmarks/host/pipeline.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR  holds ifscore (default build); WORK_DIR caches the imported
#   corpus and the model (default /tmp/ifs-pipeline). No Python needed.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$SRC/build}/ifscore
W=${2:-/tmp/ifs-pipeline}
DATA=$SRC/../shared/data/alpaca_eval_outputs
OUT=$SRC/benchmarks/results/pipeline.jsonl
command -v zstd >/dev/null || { echo "pipeline.sh: zstd is not installed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "pipeline.sh: no $BIN (build first)" >&2; exit 1; }
mkdir -p "$W"
[ -d "$W/corpus" ] || "$BIN" import alpaca-eval "$DATA" --out "$W/corpus" > /dev/null
[ -f "$W/tiny/model.safetensors" ] || "$BIN" gen-model --out "$W/tiny" --seed 1 --hidden 32 \
  --layers 1 --heads 2 --intermediate 64 --vocab "$SRC/.cache/models/all-MiniLM-L6-v2/vocab.txt" > /dev/null
shards=("$W"/corpus/*.jsonl.zst)
# The commit the binary was built from (its --version), so that a run of an
# older build beside this one is recorded under its own commit.
commit=$("$BIN" --version | sed -n 's/.*(commit \([^,]*\),.*/\1/p')
commit=${commit:-unknown}
now() { date +%s.%N; }
best() { printf '%s\n' "$@" | sort -g | head -1; }

floor=()
for i in 1 2 3; do
  t0=$(now); zstd -dc "${shards[@]}" > /dev/null; t1=$(now)
  floor+=("$(echo "$t1 - $t0" | bc -l)")
done
zst=$(best "${floor[@]}")

for th in 1 2; do
  runs=(); bestt=""
  for i in 1 2 3; do
    rm -rf "$W/state"
    t0=$(now)
    /usr/bin/time -f "%U %S" -o "$W/cpu.$i.txt" \
      "$BIN" score --model "$W/tiny" --max-len 64 --threads "$th" --stats --state-dir "$W/state" \
      --out "$W/report.json" "${shards[@]}" > /dev/null 2> "$W/stats.$i.txt"
    t1=$(now)
    t=$(echo "$t1 - $t0" | bc -l); runs+=("$t")
    if [ -z "$bestt" ] || [ "$(echo "$t < $bestt" | bc -l)" = 1 ]; then bestt=$t; cp "$W/stats.$i.txt" "$W/stats.best"; cp "$W/cpu.$i.txt" "$W/cpu.best"; fi
  done
  rate() { awk -v s="$1" '$1 == s { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }' "$W/stats.best"; }
  records=$(grep -o '"read": *[0-9]*' "$W/report.json" | head -1 | grep -o '[0-9]*$' || echo 0)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
  printf '{"bench":"pipeline","date":"%s","commit":"%s","machine":{"hostname":"%s","cpu":"%s","cores":%s},"loadavg":"%s","threads":%s,"shards":%s,"records":%s,"model":"hidden 32, 1 layer, 2 heads, intermediate 64","max_len":64,"score_s_best":%.3f,"score_s":[%s],"score_cpu_s_best":%s,"zstd_dc_s_best":%.3f,"ratio_to_floor":%.2f,"stage_rates":{"hash_MBps":%s,"decompress_MBps":%s,"parse_records_per_s":%s,"tokenize_records_per_s":%s,"forward_tokens_per_s":%s,"reduce_records_per_s":%s,"wall_records_per_s":%s}}\n' \
    "$(date -u +%FT%TZ)" "$commit" "$(hostname)" "$cpu" "$(nproc)" "$load" "$th" \
    "${#shards[@]}" "${records:-0}" "$bestt" "$(IFS=,; echo "${runs[*]}")" "$(awk '{ print $1 + $2 }' "$W/cpu.best")" "$zst" "$(echo "$bestt / $zst" | bc -l)" \
    "$(rate hash)" "$(rate decompress)" "$(rate parse)" "$(rate tokenize)" "$(rate forward)" "$(rate reduce)" "$(rate wall)" | tee -a "$OUT"
done
