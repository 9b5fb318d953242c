#!/usr/bin/env bash
# e2e_score.sh - `ifscore score` end to end on shards generated here:
# plain and zstd (two frames), empty shards (plain and zstd), a corrupted and
# a truncated zstd shard, invalid JSON, invalid UTF-8, missing fields, a
# 100 MB line, with a seeded tiny model from `ifscore gen-model`.
#   - one run is checked against the exact counts the generator wrote
#     (e2e_score_check.py: totals, per input, per reason, per group, and the
#     report against the per-record scores and rejects files);
#   - runs with 1, 2 and 8 tokenizer threads, 1 or all CPU threads, and
#     shard order (directory, reversed file list, globs) must write
#     byte-identical report.json, scores and rejects;
#   - the 100 MB line is rejected as line_too_long by default and scored
#     (truncated) with a larger --max-line-bytes.
# Needs: bash, python3 (stdlib), the zstd CLI. Skips (77) without them.
set -euo pipefail

BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/host
command -v zstd >/dev/null || { echo "SKIP: the zstd command line tool is not installed"; exit 77; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 is not installed"; exit 77; }

W=$TMP/score
rm -rf "$W"
mkdir -p "$W/shards" "$W/out"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
same() { # same FILE_A FILE_B WHAT
  if ! cmp -s "$1" "$2"; then fail "$3: $1 and $2 differ"; diff <(head -c 4000 "$1") <(head -c 4000 "$2") | head -20 || true; fi
}

"$PY" "$HERE/e2e_score_data.py" "$W/gen" 1
G=$W/gen S=$W/shards
"$PY" "$HERE/e2e_score_data.py" --shards "$G" "$S"

"$BIN" gen-model --out "$W/model" --seed 3 --hidden 32 --layers 2 --heads 2 \
  --intermediate 64 --init test --vocab "$G/vocab.txt" > /dev/null

score() { # score NAME [options...] -- inputs...
  local name=$1
  shift
  "$BIN" score --model "$W/model" --out "$W/out/$name.json" --scores "$W/out/$name.scores.jsonl" \
    --rejects "$W/out/$name.rejects.jsonl" --no-timings --format none --no-progress "$@"
}

# A first run at the default threshold gives the probabilities; the runs
# below use their median as threshold, so both labels are well populated.
score probe "$S"
T=$("$PY" - "$W/out/probe.scores.jsonl" <<'EOF'
import json, sys
p = sorted(json.loads(l)["p_answer"] for l in open(sys.argv[1]))
print("%.6f" % p[len(p) // 2])
EOF
)
echo "threshold from the median probability: $T"

# Same batch budget, different tokenizer threads, CPU threads and shard order
# on the command line: the reports must be byte-identical.
# (e2e_score_budget.sh varies the batch budget.)
score t1 --threshold "$T" --threads 1 "$S"
score t2 --threshold "$T" --threads 2 $(ls "$S"/* | sort -r)
score t8 --threshold "$T" --threads 8 --cpu-threads 1 "$S"/*.zst "$S"/*.jsonl

"$PY" "$HERE/e2e_score_check.py" "$G/expected.json" "$W/out/t1.json" \
  "$W/out/t1.scores.jsonl" "$W/out/t1.rejects.jsonl" || fail "run t1 does not match the expected counts"
al=$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print(c["answer_like"], c["scored"])' "$W/out/t1.json")
set -- $al
if [ "$1" -eq 0 ] || [ "$1" -eq "$2" ]; then fail "the threshold did not split the records ($al)"; fi

for r in t2 t8; do
  same "$W/out/t1.json" "$W/out/$r.json" "report of $r vs t1"
  same "$W/out/t1.scores.jsonl" "$W/out/$r.scores.jsonl" "scores of $r vs t1"
  same "$W/out/t1.rejects.jsonl" "$W/out/$r.rejects.jsonl" "rejects of $r vs t1"
done

# Compressed outputs hold the same lines.
score z --threshold "$T" --threads 2 "$S" --scores "$W/out/z.scores.jsonl.zst" \
  --rejects "$W/out/z.rejects.jsonl.zst"
zstd -q -d -c "$W/out/z.scores.jsonl.zst" > "$W/out/z.scores.plain"
same "$W/out/t1.scores.jsonl" "$W/out/z.scores.plain" "decompressed --scores .zst"

# The 100 MB line, scored this time (truncated to max_len).
score big --threshold "$T" --threads 2 --max-line-bytes 120000000 "$S"
"$PY" "$HERE/e2e_score_check.py" "$G/expected.json" "$W/out/big.json" \
  "$W/out/big.scores.jsonl" "$W/out/big.rejects.jsonl" --big || fail "run with the 100 MB line scored"

# The answer label: found by name in id2label, or given by name or index.
"$BIN" gen-model --out "$W/model3" --seed 3 --hidden 32 --layers 2 --heads 2 \
  --intermediate 64 --labels 3 --init test --vocab "$G/vocab.txt" > /dev/null
"$PY" - "$W/model3/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
names = ["Continuation", "ANSWER_LIKE", "not_answer"]
c["id2label"] = {str(i): n for i, n in enumerate(names)}
c["label2id"] = {n: i for i, n in enumerate(names)}
json.dump(c, open(sys.argv[1], "w"))
EOF
answer_of() { "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["classifier"]; print(c["answer_label"], c["answer_label_name"])' "$1"; }
while IFS='|' read -r opt want; do
  # shellcheck disable=SC2086
  "$BIN" score --model "$W/model3" --out "$W/out/lab.json" --format none --no-progress $opt \
    "$S/good-a.jsonl" || fail "answer label ${opt:-default}: run failed"
  got=$(answer_of "$W/out/lab.json")
  [ "$got" = "$want" ] || fail "answer label ${opt:-default}: got '$got', want '$want'"
done <<'EOF'
|1 ANSWER_LIKE
--answer-label not_answer|2 not_answer
--answer-label continuation|0 Continuation
--answer-label 2|2 not_answer
EOF
set +e
"$BIN" score --model "$W/model3" --out "$W/out/lab.json" --answer-label 3 "$S/good-a.jsonl" 2>/dev/null
rc=$?
set -e
[ $rc -eq 2 ] || fail "an answer label out of range: exit $rc, want 2"

# Exit codes: a missing model is a failure (1), no shard a usage error (2),
# two shards with the same bytes a data check failure (3, report written).
set +e
mkdir -p "$W/dup"
cp "$S/good-a.jsonl" "$W/dup/one.jsonl"
cp "$S/good-a.jsonl" "$W/dup/two.jsonl"
"$BIN" score --model "$W/model" --out "$W/out/dup.json" --format none "$W/dup" 2>/dev/null; rc=$?
[ $rc -eq 3 ] || fail "two shards with the same bytes: exit $rc, want 3"
[ -s "$W/out/dup.json" ] || fail "two shards with the same bytes: no report written"
"$BIN" score --model "$W/nope" --out "$W/out/x.json" "$S" 2>/dev/null; rc=$?
[ $rc -eq 1 ] || fail "missing model: exit $rc, want 1"
"$BIN" score --model "$W/model" 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "no shards: exit $rc, want 2"
set -e

rm -f "$S/big.jsonl"
if [ $fails -ne 0 ]; then
  echo "e2e_score: $fails failure(s)"
  exit 1
fi
echo "e2e_score: ok"
