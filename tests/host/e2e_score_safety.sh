#!/usr/bin/env bash
# e2e_score_safety.sh - `ifscore score` never destroys an input or loses an
# output, and always stops (issue 11, items 1-4 and 17):
#   - a state directory that is not ours (a folder of pack shards) is
#     refused and left intact; files we did not make are never deleted;
#   - --out/--scores/--rejects equal to an input (as given, ./x, a symlink, a
#     hard link) is refused before anything is written, the input unchanged;
#   - two outputs naming the same file are refused;
#   - --out - writes the report on stdout (no file named "-");
#   - a missing output folder fails at the start, before scoring;
#   - a second run on a state directory in use is refused;
#   - a stop request ends a run that is blocked (reading a FIFO nobody
#     writes) within IFS_STOP_GRACE_S, with exit 130;
#   - `--scores - | head -1` says the pipe closed, instead of dying silently.
# Needs: bash, python3 (stdlib), mkfifo, sha256sum. Skips (77) without them.
set -euo pipefail

BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/host
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 is not installed"; exit 77; }
for c in mkfifo sha256sum; do
  command -v $c >/dev/null || { echo "SKIP: $c is not available"; exit 77; }
done

W=$TMP/safety
rm -rf "$W"
mkdir -p "$W/out"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_exit() { # expect_exit CODE WHAT PATTERN -- command...: exit code and a stderr pattern
  local want=$1 what=$2 pat=$3
  shift 4
  local rc=0
  "$@" > "$W/stdout" 2> "$W/stderr" || rc=$?
  if [ "$rc" -ne "$want" ]; then fail "$what: exit $rc, want $want"; cat "$W/stderr"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$W/stderr"; then
    fail "$what: stderr lacks '$pat'"; cat "$W/stderr"
  fi
}

"$PY" "$HERE/e2e_score_data.py" --many "$W/data" 4 50 3
"$PY" "$HERE/e2e_score_data.py" --many "$W/big" 2 3000 4   # more than a pipe buffer of scores
"$BIN" gen-model --out "$W/model" --seed 5 --hidden 32 --layers 1 --heads 2 \
  --intermediate 64 --init test --vocab "$W/data/vocab.txt" > /dev/null
"$BIN" pack "$W"/data/s0*.jsonl --out "$W/packed" --records 40 > /dev/null
sums() { (cd "$1" && sha256sum $(ls | sort)); }
sums "$W/packed" > "$W/packed.sha256"
common=(--model "$W/model" --no-timings --format none --no-progress)

# 1. The shard folder as --state-dir: refused, nothing deleted.
expect_exit 1 "state dir = the shard folder" "not an ifscore state directory" -- \
  "$BIN" score "${common[@]}" --out "$W/out/r1.json" --state-dir "$W/packed" "$W/packed"
sums "$W/packed" | cmp -s - "$W/packed.sha256" || fail "the shard folder changed under --state-dir"
expect_exit 1 "state dir = the shard folder, --resume" "not an ifscore state directory" -- \
  "$BIN" score "${common[@]}" --resume --out "$W/out/r1.json" --state-dir "$W/packed" "$W/packed"
sums "$W/packed" | cmp -s - "$W/packed.sha256" || fail "the shard folder changed under --resume"
# A file of the user's inside our own state folder survives fresh runs.
"$BIN" score "${common[@]}" --out "$W/out/ok.json" "$W/packed" || fail "the reference run failed"
echo keep > "$W/out/ok.json.state/shard-00009.jsonl.zst"
"$BIN" score "${common[@]}" --out "$W/out/ok.json" "$W/packed" || fail "the second run failed"
[ -f "$W/out/ok.json.state/shard-00009.jsonl.zst" ] || fail "a file we did not make was deleted"

# 2. An output that is an input, however spelled: refused, the input intact.
first=$(ls "$W/packed"/*.jsonl.zst | head -1)
name=$(basename "$first")
ln -s "$first" "$W/link.jsonl.zst"
ln "$first" "$W/hard.jsonl.zst"
for flag in --out --scores --rejects; do
  for spelling in "$first" "$W/packed/./$name" "$W/link.jsonl.zst" "$W/hard.jsonl.zst"; do
    args=(--out "$W/out/r2.json")
    [ "$flag" = --out ] && args=()
    expect_exit 2 "$flag $spelling (an input)" "is the input shard" -- \
      "$BIN" score "${common[@]}" "${args[@]}" "$flag" "$spelling" "$W/packed"
  done
done
sums "$W/packed" | cmp -s - "$W/packed.sha256" || fail "an input shard was modified by an output flag"

# 3. Two outputs naming one file.
expect_exit 2 "--scores X --rejects X" "are the same file" -- \
  "$BIN" score "${common[@]}" --out "$W/out/r3.json" --scores "$W/out/x.jsonl" \
  --rejects "$W/out/x.jsonl" "$W/packed"
expect_exit 2 "--out X --scores ./X" "are the same file" -- \
  "$BIN" score "${common[@]}" --out "$W/out/y.json" --scores "$W/out/./y.json" "$W/packed"
[ ! -e "$W/out/x.jsonl" ] && [ ! -e "$W/out/y.json" ] || fail "a refused run wrote an output"

# 4. --out -: the report on stdout, byte-identical to the file report.
(cd "$W" && "$BIN" score "${common[@]}" --out - --state-dir "$W/out/dash.state" "$W/packed" \
  > "$W/out/dash.json") || fail "--out - failed"
[ ! -e "$W/-" ] || fail "--out - wrote a file named '-'"
cmp -s "$W/out/dash.json" "$W/out/ok.json" || fail "--out - differs from the report file"

# 17. A missing output folder fails at the start, naming it.
expect_exit 2 "--scores into a missing folder" "nowhere/s.jsonl" -- \
  "$BIN" score "${common[@]}" --out "$W/out/r5.json" --scores "$W/nowhere/s.jsonl" "$W/packed"
[ ! -e "$W/out/r5.json.state" ] || fail "a run refused for its outputs made a state directory"

# 17. Two runs on one state directory; a stop request ends a blocked run.
mkfifo "$W/fifo.jsonl"
exec 7<>"$W/fifo.jsonl"   # hold the FIFO open: the run blocks reading it
IFS_STOP_GRACE_S=2 "$BIN" score "${common[@]}" --out "$W/out/f.json" "$W/fifo.jsonl" \
  2> "$W/fifo.err" &
pid=$!
for _ in $(seq 200); do [ -f "$W/out/f.json.state/lock" ] && break; sleep 0.05; done
sleep 0.5
expect_exit 1 "a second run on a state directory in use" "in use by another" -- \
  "$BIN" score "${common[@]}" --out "$W/out/f.json" "$W/packed"
t0=$SECONDS
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
exec 7>&-
[ "$rc" -eq 130 ] || { fail "a stopped run exited $rc, want 130"; cat "$W/fifo.err"; }
[ $((SECONDS - t0)) -le 10 ] || fail "the stop took $((SECONDS - t0)) s with a 2 s grace"

# 17. --scores - into a pipe closed early.
rc=0
"$BIN" score "${common[@]}" --out "$W/out/p.json" --scores - "$W"/big/s0*.jsonl 2> "$W/pipe.err" \
  | head -c 10 > /dev/null || rc=$?
grep -q "Broken pipe" "$W/pipe.err" || { fail "a closed stdout was not reported"; cat "$W/pipe.err"; }

if [ "$fails" -ne 0 ]; then echo "e2e_score_safety: $fails failure(s)"; exit 1; fi
echo "e2e_score_safety: ok"
