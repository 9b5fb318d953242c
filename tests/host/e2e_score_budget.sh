#!/usr/bin/env bash
# e2e_score_budget.sh - the report does not depend on how records are
# batched: runs with different --max-batch-tokens, --max-batch-seqs and
# --chunk-records (so every record meets different neighbours, offsets and
# batch sizes in the packed forward pass) must write byte-identical
# report.json and scores. This holds only if the backend's logits for a
# sequence do not depend on the rest of its batch, which the cpu backend is
# designed to guarantee (docs/score.md, "Determinism").
# Needs: bash, python3 (stdlib). Skips (77) without them.
set -euo pipefail

BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/host
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 is not installed"; exit 77; }

W=$TMP/budget
rm -rf "$W"
mkdir -p "$W/out"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$PY" "$HERE/e2e_score_data.py" --many "$W/data" 4 250 9
"$BIN" gen-model --out "$W/model" --seed 5 --hidden 32 --layers 2 --heads 2 \
  --intermediate 64 --init test --vocab "$W/data/vocab.txt" > /dev/null

# name: options
runs=(
  "base:"
  "tiny_budget:--max-batch-tokens 160"
  "few_seqs:--max-batch-seqs 3"
  "small_window:--chunk-records 17 --max-chunks 2"
  "one_record_batches:--max-batch-seqs 1"
  "big_budget:--max-batch-tokens 65536 --max-batch-seqs 4096 --chunk-records 100000"
)
for r in "${runs[@]}"; do
  name=${r%%:*}
  opts=${r#*:}
  # shellcheck disable=SC2086
  "$BIN" score --model "$W/model" --out "$W/out/$name.json" --scores "$W/out/$name.scores.jsonl" \
    --no-timings --format none --no-progress --threads 2 $opts "$W/data"
done
for r in "${runs[@]:1}"; do
  name=${r%%:*}
  if ! cmp -s "$W/out/base.json" "$W/out/$name.json"; then
    fail "report with ${r#*:} differs from the default batching"
    diff "$W/out/base.json" "$W/out/$name.json" | head -8 || true
  fi
  # p_answer is printed to 6 decimals: a difference here is more than rounding.
  cmp -s "$W/out/base.scores.jsonl" "$W/out/$name.scores.jsonl" ||
    fail "scores with ${r#*:} differ from the default batching"
done

if [ $fails -ne 0 ]; then
  echo "e2e_score_budget: $fails failure(s)"
  exit 1
fi
echo "e2e_score_budget: ok"
