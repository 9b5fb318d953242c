#!/usr/bin/env bash
# e2e_datasets.sh - the data set subcommands end to end through the ifscore
# binary: import (every format) -> build-instructions -> prompts -> join ->
# pack -> verify, build-responses, determinism across runs, verify catching a
# changed shard, and usage errors. The real AlpacaEval corpus is covered by
# e2e_alpaca_eval.sh.
set -u
BIN=${IFS_BIN:?IFS_BIN not set}
T=${IFS_TEST_TMP:?IFS_TEST_TMP not set}/e2e
rm -rf "$T" && mkdir -p "$T"
fails=0
check() { # check "case name" command...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
run() { "$BIN" "$@" 2>>"$T/stderr.log"; }

# --- inputs ------------------------------------------------------------------
python_free_json() { # 60 alpaca-eval pairs for two generators, as arrays
  local gen=$1
  printf '['
  for i in $(seq 0 59); do
    [ "$i" -gt 0 ] && printf ','
    printf '{"instruction":"Explain topic %d to a curious child and give one example","output":"Answer %d by %s.","generator":"%s","dataset":"t"}' "$i" "$i" "$gen" "$gen"
  done
  printf ']'
}
mkdir -p "$T/ae"
python_free_json chat-a | zstd -q -o "$T/ae/chat-a.json.zst"
python_free_json base-b > "$T/ae/base-b.json"
printf '[{"instruction":"Name a fruit","input":"","output":"Apple"}]' > "$T/alpaca.json"
printf '{"id":"s1","conversations":[{"from":"human","value":"Hi there"},{"from":"gpt","value":"Hello!"}]}\n' > "$T/sg.jsonl"
printf '{"message_tree_id":"t","prompt":{"message_id":"p","role":"prompter","text":"What if people had 40 legs?","lang":"en","replies":[{"message_id":"r","role":"assistant","text":"Centipedes.","rank":0}]}}\n' > "$T/oa.jsonl"
printf '{"q":"Why is the sky blue","a":"Rayleigh scattering","who":"m"}\n' > "$T/generic.jsonl"

# --- import ------------------------------------------------------------------
check "import_alpaca_eval_folder_writes_one_shard_series_per_generator" \
  run import alpaca-eval "$T/ae" --out "$T/pairs"
check "import_manifest_counts_every_record" \
  grep -q '"records":120' "$T/pairs/manifest.json"
check "import_alpaca" run import alpaca "$T/alpaca.json" --model davinci --out "$T/i-alp"
check "import_sharegpt" run import sharegpt "$T/sg.jsonl" --out "$T/i-sg"
check "import_oasst_trees" run import oasst "$T/oa.jsonl" --out "$T/i-oa"
check "import_generic_json_with_a_field_map" \
  run import json "$T/generic.jsonl" --map instruction=q,response=a,model=who --out "$T/i-js"
for d in i-alp i-sg i-oa i-js; do
  check "import_${d}_wrote_one_record" grep -q '"records":1,' "$T/$d/manifest.json"
done
printf '[{"instruction":"x","output":"y","generator":"g"},' > "$T/trunc.json"
run import alpaca-eval "$T/trunc.json" --out "$T/i-trunc"; rc=$?
check "a_truncated_input_exits_3_and_still_writes_what_it_read" \
  test "$rc" = 3 -a -f "$T/i-trunc/manifest.json"
run import nosuchformat "$T/sg.jsonl" --out "$T/x"; rc=$?
check "an_unknown_format_is_a_usage_error" test "$rc" = 2

# --- instruction set, determinism ---------------------------------------------
check "build_instructions" run build-instructions "$T/pairs" --out "$T/is1" --seed 7
run build-instructions "$T/pairs" --out "$T/is2" --seed 7
run build-instructions "$T/pairs" --out "$T/is3" --seed 8
check "same_seed_gives_byte_identical_instruction_shards" \
  cmp -s "$T/is1/instructions-00000.jsonl.zst" "$T/is2/instructions-00000.jsonl.zst"
check "different_seed_gives_different_instruction_shards" \
  bash -c "! cmp -s '$T/is1/instructions-00000.jsonl.zst' '$T/is3/instructions-00000.jsonl.zst'"
check "instruction_set_has_each_instruction_once" grep -q '"records":60,' "$T/is1/manifest.json"
check "instruction_set_has_partial_and_full" \
  bash -c "zstd -dc '$T/is1/instructions-00000.jsonl.zst' | grep -q '\"instruction_type\":\"partial\"' && zstd -dc '$T/is1/instructions-00000.jsonl.zst' | grep -q '\"instruction_type\":\"full\"'"

# --- prompts, join -------------------------------------------------------------
for v in A B C short; do
  check "prompts_variant_$v" run prompts "$T/is1" --variant $v -o "$T/prompts-$v.jsonl"
done
check "variant_A_carries_the_alpaca_wrapper" grep -q 'Below is an instruction' "$T/prompts-A.jsonl"
check "variant_short_ends_in_the_response_tag" grep -q '### Response:"}' "$T/prompts-short.jsonl"
check "variant_C_is_the_bare_instruction" bash -c "! grep -q 'Response' '$T/prompts-C.jsonl'"
check "prompts_has_one_line_per_instruction" test "$(wc -l < "$T/prompts-B.jsonl")" = 60
# a "generation stack": echo a canned output per prompt id
sed -E 's/^\{"id":("[^"]*"),"prompt":.*$/{"id":\1,"output":"generated"}/' "$T/prompts-B.jsonl" > "$T/gen.jsonl"
check "join_merges_every_generation" run join "$T/is1" "$T/gen.jsonl" --model base-7b --variant B --out "$T/scoring"
check "joined_records_carry_model_type_and_variant" \
  bash -c "zstd -dc '$T/scoring/base-7b-00000.jsonl.zst' | head -1 | grep -q '\"model\":\"base-7b\".*\"instruction_type\":.*\"response\":\"generated\".*\"prompt_variant\":\"B\"'"
# the joined record keeps the instruction the model was given (Ip for a
# partial one) and the full instruction it was cut from
part=$(zstd -dc "$T/is1/instructions-00000.jsonl.zst" | grep -m1 '"instruction_type":"partial"')
pid=$(printf '%s' "$part" | sed -E 's/^\{"id":"([^"]*)".*/\1/')
pins=$(printf '%s' "$part" | sed -E 's/^\{"id":"[^"]*",("instruction":"([^"\\]|\\.)*").*/\1/')
pfull=$(printf '%s' "$part" | sed -E 's/.*("full_instruction":"([^"\\]|\\.)*").*/\1/')
joined=$(zstd -dc "$T/scoring/base-7b-00000.jsonl.zst" | grep -F "\"id\":\"base-7b/$pid\"")
check "joined_records_keep_the_instruction_the_model_was_given" \
  bash -c "printf '%s' '$(printf '%s' "$joined" | sed "s/'/'\\\\''/g")' | grep -qF -- '$(printf '%s' "$pins" | sed "s/'/'\\\\''/g")'"
check "joined_partial_records_keep_the_full_instruction" \
  bash -c "printf '%s' '$(printf '%s' "$joined" | sed "s/'/'\\\\''/g")' | grep -qF -- '$(printf '%s' "$pfull" | sed "s/'/'\\\\''/g")'"
check "imported_records_keep_the_instruction_and_its_source" \
  bash -c "zstd -dc '$T/pairs'/*.jsonl.zst | head -1 | grep -q '\"instruction\":\".*\"instruction_source\":\"alpaca_eval'"
head -n 59 "$T/gen.jsonl" > "$T/gen-short.jsonl"
run join "$T/is1" "$T/gen-short.jsonl" --model m --out "$T/scoring2"; rc=$?
check "join_exits_3_when_an_instruction_got_no_generation" test "$rc" = 3

# the joined shards are what `ifscore score` reads: partial/full counts must
# come out as the instruction set has them (a tiny random classifier suffices)
VOCAB=${IFS_MODELS_DIR:-}/all-MiniLM-L6-v2/vocab.txt
if [ -f "$VOCAB" ]; then
  n_partial=$(zstd -dc "$T/is1/instructions-00000.jsonl.zst" | grep -c '"instruction_type":"partial"')
  run gen-model --out "$T/tiny" --seed 1 --hidden 32 --layers 1 --heads 2 --intermediate 64 --vocab "$VOCAB" >/dev/null
  check "score_reads_the_joined_shards" \
    run score --model "$T/tiny" --backend cpu --cpu-threads 1 "$T/scoring" --out "$T/report.json"
  check "score_sees_the_instruction_sets_partial_count" \
    grep -q "\"n_partial\": $n_partial," "$T/report.json"
  # pair mode reads each record's instruction: every imported and joined record has
  # one (none rejected as missing_instruction), and for joined partial records it
  # is the partial prompt the model was given
  run gen-model --out "$T/tinypair" --seed 1 --hidden 32 --layers 1 --heads 2 --intermediate 64 \
    --vocab "$VOCAB" --input pair >/dev/null
  check "pair_scoring_reads_the_joined_shards" \
    run score --model "$T/tinypair" --backend cpu --cpu-threads 1 --instruction-field instruction \
      "$T/scoring" --out "$T/pair-joined.json" --format none
  check "every_joined_record_keeps_its_instruction" grep -q '"rejected": 0,' "$T/pair-joined.json"
  check "pair_scoring_reads_the_imported_shards" \
    run score --model "$T/tinypair" --backend cpu --cpu-threads 1 --instruction-field instruction \
      "$T/pairs" "$T/i-alp" "$T/i-sg" "$T/i-oa" "$T/i-js" --out "$T/pair-imported.json" --format none
  check "every_imported_record_keeps_its_instruction" \
    bash -c "grep -q '\"read\": 124,' '$T/pair-imported.json' && grep -q '\"rejected\": 0,' '$T/pair-imported.json'"
else
  echo "note: no vocab at $VOCAB; the score hand-off check did not run"
fi

# --- response set ---------------------------------------------------------------
check "build_responses_with_positive_models" \
  run build-responses "$T/pairs" --out "$T/rs" --seed 3 --positive-models 'chat-*'
check "response_set_has_two_records_per_positive_pair" grep -q '"records":120,' "$T/rs/manifest.json"
check "response_set_labels_are_balanced" \
  test "$(zstd -dc "$T/rs/responses-00000.jsonl.zst" | grep -c '"label":1')" = 60
# the planned set, in pair form, from AlpacaEval-style pairs and HH transcripts (.gz)
for i in $(seq 0 29); do
  printf '{"chosen":"\\n\\nHuman: How would I plant tree number %d in my garden?\\n\\nAssistant: Dig a hole twice as wide as the roots.\\n\\nHuman: ok"}\n' "$i"
done | gzip -c > "$T/hh-test.jsonl.gz"
check "import_hh_reads_gzip_transcripts" run import hh "$T/hh-test.jsonl.gz" --out "$T/hh" --model hh-a
check "hh_records_hold_the_first_turn_and_its_reply" \
  bash -c "zstd -dc '$T/hh'/*.zst | head -1 | grep -q '\"instruction\":\"How would I plant tree number 0 in my garden?\",.*\"response\":\"Dig a hole twice as wide as the roots.\".*\"instruction_source\":\"hh\"'"
check "build_responses_planned_pairs" \
  run build-responses "$T/pairs" "$T/hh" --out "$T/rp" --seed 3 --pairs --positive-models 'chat-*,hh-a' \
    --negative-mix 'Ic=1,Ic+R=1,echo=1,next=1,template=1,repeat=1,gibberish=1' \
    --holdout-source 'hh' --near-duplicates 0.6 --length-match
n1=$(zstd -dc "$T/rp/responses-00000.jsonl.zst" | grep -c '"label":1')
n0=$(zstd -dc "$T/rp/responses-00000.jsonl.zst" | grep -c '"label":0')
check "planned_set_is_balanced_and_not_empty" test "$n1" = "$n0" -a "$n1" -gt 20
check "planned_pairs_carry_their_input" \
  bash -c "zstd -dc '$T/rp/responses-00000.jsonl.zst' | grep -v -c '\"instruction\":' | grep -qx 0"
check "held_out_source_is_in_holdout_only" \
  bash -c "! zstd -dc '$T/rp/responses-00000.jsonl.zst' | grep '\"source\":\"hh\"' | grep -qv '\"split\":\"holdout\"'"
run build-responses - --out "$T/rp2" --seed 3 --pairs < /dev/null; rc=$?
check "planned_set_refuses_stdin" test "$rc" = 1
run build-responses "$T/pairs" --out "$T/rp3" --seed 3 --negative-mix 'R=1'; rc=$?
check "a_positive_kind_in_the_negative_mix_is_a_usage_error" test "$rc" = 2

# --- pack, verify ------------------------------------------------------------------
check "pack_by_records" run pack "$T/pairs" --out "$T/packed" --records 50
check "pack_writes_three_shards_of_at_most_50" \
  bash -c "ls '$T/packed'/shard-0000[0-2].jsonl.zst >/dev/null && [ ! -e '$T/packed/shard-00003.jsonl.zst' ]"
check "pack_by_bytes" run pack "$T/pairs" --out "$T/packed-b" --bytes 4K
check "verify_accepts_every_set_it_wrote" \
  run verify "$T/pairs" "$T/is1" "$T/rs" "$T/scoring" "$T/packed" "$T/packed-b"
cp -r "$T/packed" "$T/tampered"
printf 'X' | dd of="$T/tampered/shard-00001.jsonl.zst" bs=1 seek=40 conv=notrunc 2>/dev/null
run verify "$T/tampered" >/dev/null; rc=$?
check "verify_exits_3_on_a_changed_shard" test "$rc" = 3
rm "$T/tampered/shard-00002.jsonl.zst"
run verify "$T/tampered" >/dev/null; rc=$?
check "verify_exits_3_on_a_missing_shard" test "$rc" = 3
run verify "$T/nowhere" >/dev/null; rc=$?
check "verify_exits_1_without_a_manifest" test "$rc" = 1
# a FIFO where a shard should be: refused at once, never opened blocking
cp -r "$T/packed" "$T/fifo"
rm "$T/fifo/shard-00001.jsonl.zst" && mkfifo "$T/fifo/shard-00001.jsonl.zst"
timeout 20 "$BIN" verify "$T/fifo" > "$T/fifo.out" 2>&1; rc=$?
check "verify_exits_3_at_once_on_a_fifo_shard" test "$rc" = 3
check "verify_says_the_fifo_is_not_a_regular_file" grep -q 'not a regular file (a FIFO)' "$T/fifo.out"
cp -r "$T/packed" "$T/extra"
cp "$T/packed/shard-00000.jsonl.zst" "$T/extra/stray.jsonl.zst"
"$BIN" verify "$T/extra" > "$T/extra.out" 2>&1; rc=$?
check "verify_exits_3_on_a_shard_file_the_manifest_does_not_list" test "$rc" = 3
check "verify_names_the_unlisted_shard" grep -q 'stray.jsonl.zst: not listed in the manifest' "$T/extra.out"

for c in import build-instructions build-responses prompts join pack verify; do
  check "${c}_has_help" bash -c "'$BIN' $c --help | grep -q usage"
done

echo "e2e_datasets: $fails failed"
[ "$fails" = 0 ]
