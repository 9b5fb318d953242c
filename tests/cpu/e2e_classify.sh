#!/usr/bin/env bash
# e2e_classify.sh - `ifscore classify` end to end on a small seeded model with
# its own tiny vocabulary (gen-model --vocab): one output line per input line
# in order, probabilities that sum to 1, the same output at 1 and 3 threads,
# JSONL fields and pairs (a pair checkpoint: --instruction-field, its cap, the
# refusals both ways), an error line (and exit 3) for a bad line, and
# usage errors (exit 2). Needs only the ifscore binary.
set -u
: "${IFS_BIN:?run through ctest}" "${IFS_TEST_TMP:?run through ctest}"
T=$IFS_TEST_TMP
fails=0
check() { # check "sentence" condition...
    local name=$1; shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

printf '%s\n' '[PAD]' '[UNK]' '[CLS]' '[SEP]' '[MASK]' the a cat dog sat on mat what is \
    your name hello world . , ? '##s' '##ing' > "$T/vocab.txt"
"$IFS_BIN" gen-model --out "$T/model" --seed 3 --hidden 32 --layers 2 --heads 4 \
    --intermediate 64 --labels 3 --max-position 64 --init test --vocab "$T/vocab.txt" \
    >/dev/null || { echo "FAIL gen-model could not write the test model"; exit 1; }

printf 'the cat sat on the mat\nhello world\n\nwhat is your name?\ndogs sitting\n' > "$T/texts.txt"
"$IFS_BIN" classify --model "$T/model" --threads 1 "$T/texts.txt" > "$T/out1.txt" 2>"$T/err1.txt"
rc=$?
check "texts_are_classified_with_exit_code_0" test "$rc" -eq 0
check "one_output_line_per_input_line" test "$(wc -l < "$T/out1.txt")" -eq 5
check "text_lines_name_a_label_and_every_probability" \
    awk -F'\t' 'NF != 3 || $1 !~ /^LABEL_[012]$/ || split($3, a, " ") != 3 { exit 1 }' "$T/out1.txt"
check "probabilities_sum_to_one_and_the_label_is_the_most_likely" awk -F'\t' '{
    n = split($3, a, " "); s = 0; best = -1
    for (i = 1; i <= n; i++) { split(a[i], kv, "="); s += kv[2]; if (kv[2] > best) { best = kv[2]; lab = kv[1] } }
    if (s < 0.9999 || s > 1.0001 || lab != $1) exit 1 }' "$T/out1.txt"
"$IFS_BIN" classify --model "$T/model" --threads 3 < "$T/texts.txt" > "$T/out3.txt" 2>/dev/null
check "three_threads_print_exactly_what_one_thread_prints" cmp -s "$T/out1.txt" "$T/out3.txt"

printf '{"r":"the cat","q":"what is your name?","id":1}\n{"q":"hello"}\n{"r":"a dog","q":"hello world"}\n' > "$T/recs.jsonl"
"$IFS_BIN" classify --model "$T/model" --field r --format jsonl "$T/recs.jsonl" > "$T/out.jsonl" 2>/dev/null
rc=$?
check "a_record_without_the_field_gives_exit_code_3" test "$rc" -eq 3
check "jsonl_output_keeps_line_numbers_and_reports_the_missing_field" \
    grep -q '^{"line":2,"error":"missing_text"' "$T/out.jsonl"
check "jsonl_output_has_labels_probabilities_and_token_counts" \
    grep -q '^{"line":3,"label":"LABEL_[012]","label_id":[012],"probs":\[.*\],"logits":\[.*\],"n_tokens":4,"truncated":false}$' "$T/out.jsonl"
# The same weights (same seed and sizes) as a pair checkpoint: only config.json's
# "ifs_input" differs, so the pair logits below compare with the single ones.
"$IFS_BIN" gen-model --out "$T/pmodel" --seed 3 --hidden 32 --layers 2 --heads 4 \
    --intermediate 64 --labels 3 --max-position 64 --init test --vocab "$T/vocab.txt" \
    --input pair >/dev/null || { echo "FAIL gen-model could not write the pair test model"; exit 1; }
check "the_pair_checkpoint_has_the_same_weights" cmp -s "$T/model/model.safetensors" "$T/pmodel/model.safetensors"
check "the_pair_checkpoint_says_so_in_config_json" grep -q '"ifs_input":[[:space:]]*"pair"' "$T/pmodel/config.json"
"$IFS_BIN" classify --model "$T/pmodel" --field r --pair-field q --format jsonl "$T/recs.jsonl" > "$T/pair.jsonl" 2>/dev/null
check "pairs_count_both_texts_and_three_specials" \
    grep -q '^{"line":3,.*"n_tokens":7,' "$T/pair.jsonl"
check "pairs_change_the_logits" test "$(sed -n 3p "$T/pair.jsonl" | sed 's/.*"logits"//')" != \
    "$(sed -n 3p "$T/out.jsonl" | sed 's/.*"logits"//')"
"$IFS_BIN" classify --model "$T/pmodel" --field r --instruction-field q --format jsonl "$T/recs.jsonl" > "$T/pair2.jsonl" 2>/dev/null
rc=$?
check "instruction_field_is_the_documented_name_of_pair_field" cmp -s "$T/pair.jsonl" "$T/pair2.jsonl"
check "a_record_without_the_response_is_still_missing_text_in_pair_mode" \
    grep -q '^{"line":2,"error":"missing_text"' "$T/pair2.jsonl"
printf '{"r":"the cat"}\n{"r":"a dog","q":7}\n' > "$T/noinstr.jsonl"
"$IFS_BIN" classify --model "$T/pmodel" --field r --instruction-field q --format jsonl "$T/noinstr.jsonl" > "$T/noinstr.out" 2>/dev/null
rc=$?
check "a_missing_instruction_gives_exit_code_3" test "$rc" -eq 3
check "a_missing_instruction_is_rejected_as_missing_instruction" \
    grep -q '^{"line":1,"error":"missing_instruction"' "$T/noinstr.out"
check "a_non_string_instruction_is_rejected_as_instruction_not_string" \
    grep -q '^{"line":2,"error":"instruction_not_string"' "$T/noinstr.out"
"$IFS_BIN" classify --model "$T/pmodel" --field r --format jsonl "$T/recs.jsonl" > /dev/null 2> "$T/refuse1.err"
rc=$?
check "a_pair_checkpoint_without_instruction_field_is_refused_with_exit_2" test "$rc" -eq 2
check "that_refusal_names_the_config_field_and_the_flag" \
    grep -q -- 'ifs_input.*--instruction-field' "$T/refuse1.err"
"$IFS_BIN" classify --model "$T/model" --field r --instruction-field q --format jsonl "$T/recs.jsonl" > /dev/null 2> "$T/refuse2.err"
rc=$?
check "a_response_checkpoint_with_instruction_field_is_refused_with_exit_2" test "$rc" -eq 2
check "that_refusal_names_the_flag_and_the_config_field_too" \
    grep -q -- '--instruction-field.*ifs_input' "$T/refuse2.err"
"$IFS_BIN" gen-model --out "$T/kmodel" --seed 3 --hidden 32 --layers 2 --heads 4 \
    --intermediate 64 --labels 3 --max-position 64 --init test --vocab "$T/vocab.txt" \
    --input pair --instruction-max-tokens 1 >/dev/null || { echo "FAIL gen-model --instruction-max-tokens"; exit 1; }
"$IFS_BIN" classify --model "$T/kmodel" --field r --instruction-field q --format jsonl "$T/recs.jsonl" > "$T/pairk.jsonl" 2>/dev/null
check "the_checkpoints_instruction_cap_cuts_the_instruction_first" \
    grep -q '^{"line":3,.*"n_tokens":6,"truncated":true}$' "$T/pairk.jsonl"
"$IFS_BIN" classify --model "$T/model" --max-len 3 --format jsonl < "$T/texts.txt" > "$T/trunc.jsonl" 2>/dev/null
check "max_len_truncates_and_says_so" grep -q '^{"line":1,.*"n_tokens":3,"truncated":true}$' "$T/trunc.jsonl"

printf 'hello\n\377\376 broken\nworld\n' > "$T/bad.txt"
"$IFS_BIN" classify --model "$T/model" "$T/bad.txt" > "$T/bad.out" 2>/dev/null
rc=$?
check "invalid_utf8_gets_an_error_line_in_its_place_and_exit_code_3" \
    test "$rc" -eq 3 -a "$(sed -n 2p "$T/bad.out" | cut -f1,2)" = "$(printf 'ERROR\tinvalid_utf8')"
check "lines_around_a_bad_line_are_still_classified" test "$(grep -c '^LABEL_' "$T/bad.out")" -eq 2

"$IFS_BIN" classify < /dev/null > /dev/null 2>&1
check "missing_model_is_a_usage_error" test $? -eq 2
"$IFS_BIN" classify --model "$T/model" --pair-field q < /dev/null > /dev/null 2>&1
check "pair_field_without_field_is_a_usage_error" test $? -eq 2
"$IFS_BIN" classify --model "$T/model" --max-len 65 < /dev/null > /dev/null 2>&1
check "max_len_beyond_the_positions_is_a_usage_error" test $? -eq 2
"$IFS_BIN" classify --model "$T/nonexistent" < /dev/null > /dev/null 2>&1
check "an_unreadable_model_is_a_failure" test $? -eq 1
"$IFS_BIN" classify --help | grep -q -- '--pair-field'
check "help_lists_the_options" test $? -eq 0

echo "e2e_classify: $fails failed"
[ "$fails" -eq 0 ]
