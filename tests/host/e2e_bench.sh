#!/usr/bin/env bash
# e2e_bench.sh - `ifscore bench` (issue 15) on the cpu backend with a tiny
# seeded model: forward-only and end-to-end JSON parses, counts add up
# (records = lines of the shards, tokens = sum of lengths), the number of
# repeats is right, the end-to-end mode writes nothing beside --json, and
# refusals (bad --lengths, missing model) exit 2 / 1 with words. No timing
# is asserted. Needs python3 (stdlib); skips (77) without it.
set -euo pipefail

BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/host
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 is not installed"; exit 77; }

W=$TMP/bench
rm -rf "$W"
mkdir -p "$W/run"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_exit() { # expect_exit CODE WHAT PATTERN -- command...
  local want=$1 what=$2 pat=$3
  shift 4
  local rc=0
  "$@" > "$W/stdout" 2> "$W/stderr" || rc=$?
  if [ "$rc" -ne "$want" ]; then fail "$what: exit $rc, want $want"; cat "$W/stderr"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$W/stderr"; then
    fail "$what: stderr lacks '$pat'"; cat "$W/stderr"
  fi
}

"$PY" "$HERE/e2e_score_data.py" --many "$W/data" 2 30 3
"$BIN" gen-model --out "$W/model" --seed 5 --hidden 32 --layers 1 --heads 2 \
  --intermediate 64 --init test --vocab "$W/data/vocab.txt" > /dev/null
"$BIN" pack "$W"/data/s0*.jsonl --out "$W/packed" --records 20 > /dev/null

# forward only, fixed and uniform lengths: records, tokens, repeats
"$BIN" bench --model "$W/model" --lengths 24 --seqs 10 --warmup 1 --repeats 3 \
  --no-peak --json "$W/f1.json" > "$W/f1.txt" || fail "forward-only fixed: exit $?"
"$PY" - "$W/f1.json" <<'PY' || fail "forward-only fixed: JSON figures wrong"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["mode"] == "forward", j["mode"]
assert j["records"] == 10 and j["tokens"] == 240, (j["records"], j["tokens"])
assert len(j["seconds"]) == 3 and j["settings"]["repeats"] == 3
assert j["model"]["hidden"] == 32 and j["model"]["layers"] == 1
assert j["median"]["gflops_per_s"] > 0 and j["machine"]["cores"] >= 1
PY
grep -q "GFLOP/s" "$W/f1.txt" || fail "forward-only table lacks GFLOP/s"
"$BIN" bench --model "$W/model" --lengths uniform:8-40 --seqs 50 --repeats 2 --seed 7 \
  --max-len 64 --max-batch-tokens 256 --no-peak --json "$W/f2.json" > /dev/null || fail "uniform: exit $?"
"$PY" - "$W/f2.json" <<'PY' || fail "forward-only uniform: JSON figures wrong"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["records"] == 50 and 8 * 50 <= j["tokens"] <= 40 * 50, j["tokens"]
assert j["batches"] >= j["tokens"] // 256, j["batches"]
assert len(j["seconds"]) == 2
PY

# end to end over packed shards: records = lines, no file written in the cwd
(cd "$W/run" && "$BIN" bench --model "$W/model" --threads 1 --repeats 2 \
  "$W/packed" --json "$W/e.json" > "$W/e.txt") || fail "end to end: exit $?"
[ -z "$(ls -A "$W/run")" ] || fail "end to end wrote files in the working folder: $(ls -A "$W/run")"
lines=$(cat "$W"/data/s0*.jsonl | wc -l)
"$PY" - "$W/e.json" "$lines" <<'PY' || fail "end to end: JSON figures wrong"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["mode"] == "end_to_end"
assert j["records"] == int(sys.argv[2]), (j["records"], sys.argv[2])
assert j["tokens"] > j["records"], j["tokens"]
assert len(j["seconds"]) == 2
for s in ("decompress", "parse", "tokenize", "forward", "wall"):
    assert s in j["median"]["stages_s"], s
PY
grep -q "tokenize" "$W/e.txt" || fail "end-to-end table lacks the stage breakdown"

# refusals
expect_exit 2 "bad --lengths" "not understood" -- "$BIN" bench --model "$W/model" --lengths fast
expect_exit 2 "uniform out of order" "A <= B" -- "$BIN" bench --model "$W/model" --lengths uniform:50-10
expect_exit 2 "length over max-len" "max-len" -- "$BIN" bench --model "$W/model" --lengths 600
expect_exit 2 "no --model" "model DIR is required" -- "$BIN" bench
expect_exit 1 "missing model" "$W/nomodel" -- "$BIN" bench --model "$W/nomodel" --lengths 16
expect_exit 2 "bad --repeats" "repeats" -- "$BIN" bench --model "$W/model" --repeats 0

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
