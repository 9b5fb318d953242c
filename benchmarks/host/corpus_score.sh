#!/usr/bin/env bash
# corpus_score.sh - the real corpus end to end (a benchmark, never run by
# ctest): every AlpacaEval output in ../shared/data/alpaca_eval_outputs/
# (227 generators, 182,723 responses; JSON arrays, converted to shards by
# `ifscore import alpaca-eval`) scored by `ifscore score`, report per
# generator. Appends one JSON line to benchmarks/results/score_corpus.jsonl.
#
# Usage: benchmarks/host/corpus_score.sh [BUILD_DIR] [MODEL_DIR] [extra score options...]
# Without MODEL_DIR a seeded micro classifier (hidden 32, 2 layers, random
# head, MiniLM's uncased vocab) is generated: its IFS figures mean nothing,
# the run measures the pipeline (counts, rejects, stages, memory) on real
# text. Give a trained tone classifier for real IFS figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
MODEL=${2:-}
shift 2 2>/dev/null || shift $#
BIN=$BUILD/ifscore
DATA=${IFS_SHARED_DIR:-$ROOT/../shared}/data/alpaca_eval_outputs
W=${TMPDIR:-/tmp}/ifs-corpus-$$
RES=$ROOT/benchmarks/results/score_corpus.jsonl
mkdir -p "$W" "$ROOT/benchmarks/results"
trap 'rm -rf "$W"' EXIT
[ -d "$DATA" ] || { echo "no corpus at $DATA"; exit 1; }

t0=$(date +%s.%N)
"$BIN" import alpaca-eval "$DATA" --out "$W/shards" -q
t1=$(date +%s.%N)
if [ -z "$MODEL" ]; then
  VOCAB=$ROOT/.cache/models/all-MiniLM-L6-v2
  "$BIN" gen-model --out "$W/model" --seed 1 --hidden 32 --layers 2 --heads 2 --intermediate 64 \
    --init test --vocab "$VOCAB/vocab.txt" > /dev/null
  cp "$VOCAB/tokenizer_config.json" "$W/model/"
  MODEL=$W/model
  desc="gen-model micro (hidden 32, 2 layers, random head, MiniLM vocab)"
else
  desc="$MODEL"
fi
"$BIN" score --model "$MODEL" --out "$W/report.json" --format text --stats --no-progress \
  "$@" "$W/shards" > "$W/table.txt" 2> "$W/stats.txt"
t2=$(date +%s.%N)
cat "$W/stats.txt"
tail -3 "$W/table.txt"
python3 - "$W/report.json" "$W/stats.txt" "$RES" "$desc" "$(git -C "$ROOT" rev-parse --short=12 HEAD)" \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$*" <<'PY'
import json, os, platform, re, sys, time
rep, stats, res, desc, commit, t_import, t_score, opts = sys.argv[1:9]
r = json.load(open(rep))
c = r["counts"]
st = open(stats).read()
stage = {m.group(1): float(m.group(2)) for m in re.finditer(r"^  (\w+) +([0-9.]+)", st, re.M)}
rss = re.search(r"peak RSS ([0-9.]+) MiB", st)
ifs = sorted((g["ifs"], g["key"]["model"]) for g in r["groups"])
line = {"bench": "score_corpus", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.node(), "cpus": os.cpu_count(), "gpu": None, "commit": commit,
        "backend": r.get("timings", {}).get("facts", {}).get("backend"),
        "model": desc, "score_options": opts,
        "data": "alpaca_eval_outputs: 227 JSON arrays via ifscore import alpaca-eval",
        "read": c["read"], "scored": c["scored"], "rejected": c["rejected"],
        "groups": c["groups"], "tokens": c["tokens"], "truncated": c["truncated"],
        "import_s": float(t_import), "score_wall_s": float(t_score),
        "records_per_s": c["read"] / float(t_score), "stage_s": stage,
        "peak_rss_mib": float(rss.group(1)) if rss else None,
        "ifs_min": ifs[0], "ifs_max": ifs[-1]}
open(res, "a").write(json.dumps(line) + "\n")
print(json.dumps(line))
PY
