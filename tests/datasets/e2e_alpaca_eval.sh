#!/usr/bin/env bash
# e2e_alpaca_eval.sh - `ifscore import alpaca-eval` on the whole shared corpus
# (../shared/data/alpaca_eval_outputs: 227 generators, 182,723 responses),
# with the counts checked: in total, per generator against an independent
# count (Python's json module on the decompressed array), ids and models; the
# output verified against its manifest; and the instruction set built from it
# holding the 805 distinct instructions. Skips (77) when the corpus is absent.
set -u
BIN=${IFS_BIN:?IFS_BIN not set}
DATA=${IFS_SHARED_DIR:?}/data/alpaca_eval_outputs
T=${IFS_TEST_TMP:?}/alpaca-eval
if [ ! -d "$DATA" ]; then
  echo "SKIP: the AlpacaEval corpus is not at $DATA"
  exit 77
fi
PY=${IFS_PYTHON:-python3}
[ -x "$PY" ] || PY=python3
rm -rf "$T" && mkdir -p "$T"
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

start=$(date +%s%N)
"$BIN" import alpaca-eval "$DATA" --out "$T/pairs" 2> "$T/import.log"; rc=$?
end=$(date +%s%N)
cat "$T/import.log"
echo "import took $(( (end - start) / 1000000 )) ms"
check "import_of_the_whole_corpus_succeeds" test "$rc" = 0
check "all_227_generators_give_one_shard_each" \
  test "$(ls "$T/pairs"/*.jsonl.zst | wc -l)" = 227
check "manifest_total_is_182723_records" grep -q '^{"format":"ifscore-shards/1","records":182723,' "$T/pairs/manifest.json"
check "nothing_was_skipped" grep -q '"elements":182723,"records":182723,"merged":0,"file_errors":0,"skipped":{}' "$T/pairs/manifest.json"

# independent per-generator counts, ids and models
"$PY" - "$DATA" "$T/pairs" <<'PYEOF'
import json, os, subprocess, sys
data, out = sys.argv[1], sys.argv[2]
man = json.load(open(os.path.join(out, "manifest.json")))
by_file = {s["file"]: s["records"] for s in man["shards"]}
bad = 0
total = 0
for name in sorted(os.listdir(data)):
    if not name.endswith(".json.zst"):
        continue
    stem = name[: -len(".json.zst")]
    arr = json.loads(subprocess.run(["zstd", "-dc", os.path.join(data, name)],
                                    capture_output=True, check=True).stdout)
    total += len(arr)
    got = by_file.get(stem + "-00000.jsonl.zst")
    if got != len(arr):
        print(f"FAIL count {stem}: {got} != {len(arr)}"); bad += 1; continue
    lines = subprocess.run(["zstd", "-dc", os.path.join(out, stem + "-00000.jsonl.zst")],
                           capture_output=True, check=True).stdout.decode().splitlines()
    for i, (line, src) in enumerate(zip(lines, arr)):
        r = json.loads(line)
        if (r["id"] != f'{src["generator"]}/{i}' or r["model"] != src["generator"]
                or r["instruction"] != src["instruction"] or r["response"] != src["output"]
                or r["instruction_type"] != "full"):
            print(f"FAIL record {stem}/{i}"); bad += 1; break
print(f"checked {total} records in {len(by_file)} shards against the source arrays: {bad} bad")
sys.exit(1 if bad or total != 182723 else 0)
PYEOF
check "every_record_matches_its_source_element" test $? = 0

check "the_import_verifies_against_its_manifest" "$BIN" verify -q "$T/pairs"
"$BIN" build-instructions "$T/pairs" --out "$T/instr" --seed 1 2> "$T/build.log"
cat "$T/build.log"
check "the_instruction_set_has_the_805_distinct_instructions" \
  grep -q '^{"format":"ifscore-shards/1","records":805,' "$T/instr/manifest.json"
echo "e2e_alpaca_eval: $fails failed"
[ "$fails" = 0 ]
