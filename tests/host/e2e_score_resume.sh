#!/usr/bin/env bash
# e2e_score_resume.sh - `ifscore score --resume` after kill -9 and after
# SIGINT gives exactly the report, scores and rejects of an uninterrupted run.
#
# To stop a run at a known point without timing races, one shard of the list
# (s05.jsonl, sixth in sorted order) is a FIFO that this script feeds by
# hand: the run finishes s00..s04 (their .done markers appear in the state
# directory), then blocks inside s05 with half of its lines read. That is
# where it is killed. For the rerun, s05.jsonl becomes the regular file the
# uninterrupted reference run read.
# Also checked: a state made under another configuration (threshold, dtype) is refused under
# --resume; a shard whose mtime changed is redone; --slice I/N over three
# tasks merged by `ifscore reduce` equals the single run.
# Needs: bash, python3 (stdlib), mkfifo. Skips (77) without them.
set -euo pipefail

BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/host
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 is not installed"; exit 77; }
command -v mkfifo >/dev/null || { echo "SKIP: mkfifo is not available"; exit 77; }

W=$TMP/resume
rm -rf "$W"
mkdir -p "$W/out"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
same() {
  if ! cmp -s "$1" "$2"; then fail "$3: $1 and $2 differ"; diff <(head -c 3000 "$1") <(head -c 3000 "$2") | head -20 || true; fi
}
wait_for() { # wait_for SECONDS COMMAND... : polls until COMMAND succeeds
  local until=$((SECONDS + $1))
  shift
  while ! "$@"; do
    [ $SECONDS -lt $until ] || return 1
    sleep 0.05
  done
}
n_done() { find "$1" -name '*.done' 2>/dev/null | wc -l; }
has_done() { [ "$(n_done "$1")" -ge "$2" ]; }

"$PY" "$HERE/e2e_score_data.py" --many "$W/data" 10 300 5
S=$W/data
"$BIN" gen-model --out "$W/model" --seed 11 --hidden 32 --layers 2 --heads 2 \
  --intermediate 64 --init test --vocab "$S/vocab.txt" > /dev/null
# A few bad lines so the rejects output is exercised across the resume too.
printf 'not json\n{"model": "m1"}\n' >> "$S/s02.jsonl"
printf '{"model": "m2", "response": "\xff"}\n' >> "$S/s07.jsonl"
mkdir -p "$W/regular"
mv "$S/s05.jsonl" "$W/regular/s05.jsonl"

common=(--model "$W/model" --no-timings --format none --no-progress --threads 2)
# Shards are named one by one: a directory lists regular files only, and the
# paths must be spelled the same in every run (reports record them).
shards=("$S"/s00.jsonl "$S"/s01.jsonl "$S"/s02.jsonl "$S"/s03.jsonl "$S"/s04.jsonl
        "$S"/s05.jsonl "$S"/s06.jsonl "$S"/s07.jsonl "$S"/s08.jsonl "$S"/s09.jsonl)
use_regular() { rm -f "$S/s05.jsonl"; cp "$W/regular/s05.jsonl" "$S/s05.jsonl"; }
use_fifo() { rm -f "$S/s05.jsonl"; mkfifo "$S/s05.jsonl"; }

# The reference: one uninterrupted run.
use_regular
"$BIN" score "${common[@]}" --out "$W/out/ref.json" --scores "$W/out/ref.scores.jsonl" \
  --rejects "$W/out/ref.rejects.jsonl" "${shards[@]}"

run_until_fifo() { # run_until_fifo NAME: starts a run that stops inside s05
  local name=$1
  use_fifo
  # A non-interactive shell starts background jobs with SIGINT ignored (and
  # ifscore, like any well-behaved tool, leaves an ignored SIGINT ignored):
  # restore the default disposition so the job takes Ctrl-C as a user's would.
  "$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$BIN" score "${common[@]}" --out "$W/out/$name.json" \
    --scores "$W/out/$name.scores.jsonl" --rejects "$W/out/$name.rejects.jsonl" "${shards[@]}" \
    2> "$W/out/$name.err" &
  PID=$!
  # The writer opens the FIFO when the run does, writes half of s05, then
  # holds it open (as sleep) until killed: then the run reads EOF.
  { head -n 150 "$W/regular/s05.jsonl"; exec sleep 600; } > "$S/s05.jsonl" &
  WPID=$!
  wait_for 60 has_done "$W/out/$name.json.state" 5 ||
    fail "$name: shards before the FIFO were not committed"
  sleep 0.3                          # let it read into s05
}

for how in kill9 sigint; do
  run_until_fifo "$how"
  if [ $how = kill9 ]; then
    kill -9 $PID
    wait $PID 2>/dev/null && rc=0 || rc=$?
    kill $WPID; wait $WPID 2>/dev/null || true
    [ $rc -eq 137 ] || fail "kill -9: exit $rc"
  else
    kill -INT $PID
    wait_for 30 grep -q "stopping" "$W/out/$how.err" || fail "sigint: no 'stopping' message"
    kill $WPID; wait $WPID 2>/dev/null || true   # EOF: the reader returns, sees the stop
    wait $PID && rc=0 || rc=$?
    [ $rc -eq 130 ] || { fail "SIGINT: exit $rc, want 130"; cat "$W/out/$how.err"; }
  fi
  done_before=$(n_done "$W/out/$how.json.state")
  [ "$done_before" -eq 5 ] || fail "$how: $done_before shards committed before the stop, want 5"
  [ ! -e "$W/out/$how.json" ] || fail "$how: a report was written by the interrupted run"
  use_regular
  "$BIN" score "${common[@]}" --resume --out "$W/out/$how.json" --scores "$W/out/$how.scores.jsonl" \
    --rejects "$W/out/$how.rejects.jsonl" "${shards[@]}"
  same "$W/out/ref.json" "$W/out/$how.json" "report after $how + resume"
  same "$W/out/ref.scores.jsonl" "$W/out/$how.scores.jsonl" "scores after $how + resume"
  same "$W/out/ref.rejects.jsonl" "$W/out/$how.rejects.jsonl" "rejects after $how + resume"
done

# How many shards a resumed run skipped (the report's run facts).
resumed() {
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["timings"]["facts"]["shards_resumed"])' "$1"
}
# Everything done: a rerun skips all 10; after touching one shard, 9.
# (sigint.json's state is the one made with the current s05.jsonl.)
"$BIN" score --model "$W/model" --format none --no-progress --resume --out "$W/out/sigint.json" "${shards[@]}"
[ "$(resumed "$W/out/sigint.json")" = 10 ] || fail "a complete state was not fully reused: $(resumed "$W/out/sigint.json")"
touch -d '2001-01-01' "$S/s03.jsonl"
"$BIN" score --model "$W/model" --format none --no-progress --resume --out "$W/out/sigint.json" "${shards[@]}"
[ "$(resumed "$W/out/sigint.json")" = 9 ] || fail "a touched shard was not redone: $(resumed "$W/out/sigint.json")"
"$BIN" score "${common[@]}" --resume --out "$W/out/sigint.json" "${shards[@]}"
same "$W/out/ref.json" "$W/out/sigint.json" "report after redoing a touched shard"

# Another configuration must not reuse the state.
set +e
"$BIN" score "${common[@]}" --resume --threshold 0.3 --out "$W/out/sigint.json" "${shards[@]}" 2> "$W/out/cfg.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "--resume under another threshold: exit $rc, want 1"
grep -q "another configuration ('threshold' differs" "$W/out/cfg.err" || fail "no words about the configuration: $(cat "$W/out/cfg.err")"
# ... nor one under another compute dtype (f16 and f32 differ in the last digits).
set +e
"$BIN" score "${common[@]}" --resume --backend cpu --dtype f16 --out "$W/out/sigint.json" "${shards[@]}" 2> "$W/out/dt.err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "--resume under another dtype: exit $rc, want 1"
grep -q "another configuration ('\(backend\|dtype\)' differs" "$W/out/dt.err" || fail "no words about the dtype: $(cat "$W/out/dt.err")"

# ... nor one made with another tokenizer: the fingerprint covers the vocab
# in id order (here from tokenizer.json, which used to count as "none") and
# the special tokens (tokenizer_config.json, which it used to leave out).
cp -r "$W/model" "$W/modeltj"
"$PY" - "$W/modeltj" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
toks = [l.rstrip("\n") for l in open(os.path.join(d, "vocab.txt"), encoding="utf-8")]
os.remove(os.path.join(d, "vocab.txt"))
tj = {"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(toks)}},
      "added_tokens": []}
json.dump(tj, open(os.path.join(d, "tokenizer.json"), "w"))
PYEOF
tj_run() { "$BIN" score --model "$W/modeltj" --no-timings --format none --no-progress --threads 2 \
             --resume --out "$W/out/tj.json" "${shards[@]}" 2> "$W/out/tj.err"; }
use_regular
tj_run || fail "a run with a tokenizer.json vocab failed: $(cat "$W/out/tj.err")"
grep -q '"tokenizer_sha256": "[0-9a-f]\{64\}"' "$W/out/tj.json" ||
  fail "report.json carries no classifier.tokenizer_sha256"
# Swap the ids of two ordinary tokens (a vocab line edited).
"$PY" - "$W/modeltj/tokenizer.json" <<'PYEOF'
import json, sys
tj = json.load(open(sys.argv[1]))
v = tj["model"]["vocab"]
plain = [t for t in v if not t.startswith("[") and not t.startswith("##")]
a, b = plain[0], plain[1]
v[a], v[b] = v[b], v[a]
json.dump(tj, open(sys.argv[1], "w"))
PYEOF
set +e; tj_run; rc=$?; set -e
[ $rc -eq 1 ] || fail "--resume after a tokenizer.json vocab edit: exit $rc, want 1"
grep -q "another configuration.*'tokenizer' differs" "$W/out/tj.err" || fail "no words about the vocab: $(cat "$W/out/tj.err")"
# A special token changed (mask_token names another vocab entry).
rm -rf "$W/out/tj.json.state" "$W/out/tj.json"
tj_run || fail "a fresh run after the vocab edit failed: $(cat "$W/out/tj.err")"
"$PY" - "$W/modeltj" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
v = json.load(open(os.path.join(d, "tokenizer.json")))["model"]["vocab"]
other = next(t for t in v if not t.startswith("[") and not t.startswith("##") and len(t) > 2)
json.dump({"do_lower_case": True, "mask_token": other}, open(os.path.join(d, "tokenizer_config.json"), "w"))
PYEOF
set +e; tj_run; rc=$?; set -e
[ $rc -eq 1 ] || fail "--resume after a special-token edit: exit $rc, want 1"
grep -q "another configuration.*'tokenizer' differs" "$W/out/tj.err" || fail "no words about the special token: $(cat "$W/out/tj.err")"

# Slices: three tasks, merged by `ifscore reduce`, equal the single run.
for i in 0 1 2; do
  "$BIN" score "${common[@]}" --slice $i/3 --out "$W/out/slice$i.json" "${shards[@]}"
done
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_COUNT=3 \
  "$BIN" score "${common[@]}" --out "$W/out/slurm1.json" "${shards[@]}"
same "$W/out/slice1.json" "$W/out/slurm1.json" "slice from SLURM_ARRAY_* vs --slice 1/3"
"$BIN" reduce -q -o "$W/out/merged.json" "$W/out/slice0.json" "$W/out/slice1.json" \
  "$W/out/slice2.json"
# reduce always writes a timings object; compare everything else.
"$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("timings", None)
b.pop("timings", None)
sys.exit(0 if a == b else 1)' "$W/out/ref.json" "$W/out/merged.json" ||
  fail "three slices merged by ifscore reduce differ from the single run"

if [ $fails -ne 0 ]; then
  echo "e2e_score_resume: $fails failure(s)"
  exit 1
fi
echo "e2e_score_resume: ok"
