#!/usr/bin/env bash
# e2e_score_pair_hf.sh - pair scoring against HF transformers: seeded pair
# checkpoints (gen-model --input pair, random token type embeddings, the real
# all-MiniLM-L6-v2 vocab), with no instruction cap and with caps below and
# above half the room, scored by `score --instruction-field` (the scheduler's
# path, token types through the batch) and `classify --instruction-field`, and
# every record's token count, label and logits compared with HF's, committed
# in tests/host/fixtures/pair_hf.json (made by tests/host/e2e_score_pair_hf.py
# ref with torch; REGEN=1 remakes it first). The check itself needs python3's
# stdlib only. Skips (77) without the vocab or python3.
set -u
B=${IFS_BIN:?run through ctest}
T=${IFS_TEST_TMP:?run through ctest}/pairhf
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${IFS_PYTHON:-python3}
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: no python3 to read the fixture"; exit 77; }
VOCAB=${IFS_MODELS_DIR:-}/all-MiniLM-L6-v2/vocab.txt
[ -f "$VOCAB" ] || { echo "SKIP: no vocab at $VOCAB (scripts/setup.sh fetches it)"; exit 77; }
H=$SRC/tests/host/e2e_score_pair_hf.py
FX=$SRC/tests/host/fixtures/pair_hf.json
RECS=$SRC/tests/host/fixtures/pair_records.jsonl
rm -rf "$T" && mkdir -p "$T"
fails=0

run_case() { # run_case NAME MAX_LEN [gen-model options]
  local name=$1 len=$2; shift 2
  local m=$T/$name
  local gen=(--seed 18 --hidden 64 --layers 2 --heads 4 --intermediate 128 --max-position 128
             --init test --input pair "$@")
  "$B" gen-model --out "$m" --vocab "$VOCAB" "${gen[@]}" >/dev/null ||
    { echo "FAIL $name: gen-model"; fails=$((fails + 1)); return; }
  if [ "${REGEN:-0}" = 1 ]; then
    "$PY" "$H" ref "$FX" "$name" "$m" "$len" "$RECS" \
      "ifscore gen-model --out DIR --vocab all-MiniLM-L6-v2/vocab.txt ${gen[*]}" ||
      { echo "FAIL $name: the HF reference could not be made"; fails=$((fails + 1)); return; }
  fi
  "$B" score --model "$m" --backend cpu --cpu-threads 1 --threads 2 --max-len "$len" \
    --max-batch-tokens 512 --instruction-field instruction --no-timings --format none \
    --no-progress --out "$m.report.json" --scores "$m.scores.jsonl" "$RECS" ||
    { echo "FAIL $name: score"; fails=$((fails + 1)); return; }
  "$B" classify --model "$m" --threads 1 --max-len "$len" --field response \
    --instruction-field instruction --format jsonl "$RECS" > "$m.classify.jsonl" 2>/dev/null ||
    { echo "FAIL $name: classify"; fails=$((fails + 1)); return; }
  if "$PY" "$H" check "$FX" "$name" "$m" "$len" "$m.scores.jsonl" "$m.classify.jsonl"; then
    echo "ok   ${name}_matches_hf_transformers"
  else
    echo "FAIL ${name}_matches_hf_transformers"; fails=$((fails + 1))
  fi
}
run_case nocap_len48 48
run_case cap8_len64 64 --instruction-max-tokens 8
run_case cap16_len24 24 --instruction-max-tokens 16   # above half the room: (24 - 3) / 2 = 10
run_case cap5_len128 128 --instruction-max-tokens 5

echo "e2e_score_pair_hf: $fails failed"
[ "$fails" -eq 0 ]
