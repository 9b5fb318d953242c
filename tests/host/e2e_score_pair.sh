#!/usr/bin/env bash
# e2e_score_pair.sh - `ifscore score` in pair mode (issue 18) end to end on a
# small seeded pair checkpoint (gen-model --input pair): --instruction-field
# feeds [CLS] instruction [SEP] response [SEP] (token counts, the checkpoint's
# instruction cap), records without the instruction are rejected with their own
# reasons and counted (read == scored + rejected), the checkpoint decides
# (refusals both ways, exit 2, the flag and config.json's field named, nothing
# written), the pair identity is in report.json, --resume refuses another
# instruction field, and reduce / compare refuse to mix a pair run with a
# response-only run while slices of one pair run merge into the single run's
# report. Logits against HF transformers: e2e_score_pair_hf.sh. Needs only the
# ifscore binary.
set -u
B=${IFS_BIN:?run through ctest}
T=${IFS_TEST_TMP:?run through ctest}/pair
rm -rf "$T" && mkdir -p "$T"
fails=0
check() { # check "sentence" command...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
field() { # field ID KEY FILE: KEY's raw value on the scores line with "id":ID
  grep "\"id\":$1," "$3" | sed "s/.*\"$2\":\([^,}]*\).*/\1/"
}

printf '%s\n' '[PAD]' '[UNK]' '[CLS]' '[SEP]' '[MASK]' the a cat dog sat on mat what is \
  your name hello world . , ? '##s' '##ing' > "$T/vocab.txt"
gen() { # gen DIR [options]: the same seeded weights, whatever the input
  local out=$1; shift
  "$B" gen-model --out "$out" --seed 5 --hidden 32 --layers 2 --heads 4 --intermediate 64 \
    --max-position 64 --init test --vocab "$T/vocab.txt" "$@" >/dev/null
}
gen "$T/resp" && gen "$T/pair" --input pair && gen "$T/pairk" --input pair --instruction-max-tokens 2 ||
  { echo "FAIL gen-model could not write the test models"; exit 1; }

# a.jsonl: 6 records + one without the instruction + one whose instruction is
# not a string; b.jsonl: 4 records. "prompt" is a second instruction field.
{
  printf '{"id":1,"model":"m1","instruction":"what is your name?","prompt":"hello","response":"the cat sat on the mat"}\n'
  printf '{"id":2,"model":"m1","instruction":"hello world","prompt":"hello","response":"a dog"}\n'
  printf '{"id":3,"model":"m1","instruction":"","prompt":"hello","response":"the mat"}\n'
  printf '{"id":4,"model":"m2","instruction":"what is the cat on?","prompt":"hello","response":""}\n'
  printf '{"id":5,"model":"m2","instruction":"the dog sat on the mat, the cat sat on the dog","prompt":"hello","response":"hello"}\n'
  printf '{"id":6,"model":"m2","instruction":"what is your name","prompt":"hello","response":"a cat"}\n'
  printf '{"id":7,"model":"m2","prompt":"hello","response":"a dog sat"}\n'
  printf '{"id":8,"model":"m1","instruction":["what"],"prompt":"hello","response":"a dog sat"}\n'
} > "$T/a.jsonl"
{
  printf '{"id":9,"model":"m1","instruction":"what is your name?","prompt":"hello","response":"hello world"}\n'
  printf '{"id":10,"model":"m2","instruction":"a cat","prompt":"hello","response":"a dog"}\n'
  printf '{"id":11,"model":"m2","instruction":"hello","prompt":"hello","response":"the cat sat"}\n'
  printf '{"id":12,"model":"m1","instruction":"what?","prompt":"hello","response":"the dogs sitting"}\n'
} > "$T/b.jsonl"
common=(--backend cpu --cpu-threads 1 --threads 2 --no-timings --format none --no-progress)

# --- scoring pairs --------------------------------------------------------------
"$B" score --model "$T/pair" "${common[@]}" --instruction-field instruction --out "$T/pair.json" \
  --scores "$T/pair.scores.jsonl" --rejects "$T/pair.rejects.jsonl" "$T/a.jsonl" "$T/b.jsonl" 2>"$T/pair.err"
rc=$?
check "a_pair_checkpoint_scores_with_instruction_field" test "$rc" -eq 0
check "the_report_says_the_classifier_read_pairs" grep -q '"input": "pair",' "$T/pair.json"
check "the_report_names_the_instruction_field" grep -q '"instruction_field": "instruction",' "$T/pair.json"
check "the_report_names_the_instruction_cap_0_for_none" grep -q '"instruction_max_tokens": 0$' "$T/pair.json"
check "every_line_is_read_and_scored_or_rejected" \
  bash -c "grep -q '\"read\": 12,' '$T/pair.json' && grep -q '\"scored\": 10,' '$T/pair.json' && grep -q '\"rejected\": 2,' '$T/pair.json'"
check "a_record_without_the_instruction_is_rejected_as_missing_instruction" \
  grep -q '"line":7,.*"reason":"missing_instruction"' "$T/pair.rejects.jsonl"
check "a_non_string_instruction_is_rejected_as_instruction_not_string" \
  grep -q '"line":8,.*"reason":"instruction_not_string"' "$T/pair.rejects.jsonl"
check "the_report_counts_both_reasons" \
  grep -q '"rejects": {"instruction_not_string": 1, "missing_instruction": 1}' "$T/pair.json"
# [CLS] what is your name ? [SEP] the cat sat on the mat [SEP]: 3 + 5 + 6
check "a_pair_counts_both_texts_and_three_specials" test "$(field 1 tokens "$T/pair.scores.jsonl")" = 14
check "an_empty_instruction_is_still_a_pair" test "$(field 3 tokens "$T/pair.scores.jsonl")" = 5
check "an_empty_response_is_still_a_pair" test "$(field 4 tokens "$T/pair.scores.jsonl")" = 9

"$B" score --model "$T/resp" "${common[@]}" --out "$T/resp.json" --scores "$T/resp.scores.jsonl" \
  "$T/a.jsonl" "$T/b.jsonl" 2>/dev/null
check "the_response_checkpoint_scores_the_same_shards_without_the_flag" test $? -eq 0
check "a_response_only_report_has_no_input_field" bash -c "! grep -q '\"input\"\\|instruction_field' '$T/resp.json'"
check "response_only_scoring_reads_the_response_alone" test "$(field 1 tokens "$T/resp.scores.jsonl")" = 8
check "pairs_change_the_probabilities_of_the_same_weights" \
  test "$(field 1 p_answer "$T/pair.scores.jsonl")" != "$(field 1 p_answer "$T/resp.scores.jsonl")"

# the checkpoint's cap: the instruction keeps 2 ids, the response the rest
"$B" score --model "$T/pairk" "${common[@]}" --instruction-field instruction --out "$T/pairk.json" \
  --scores "$T/pairk.scores.jsonl" "$T/a.jsonl" 2>/dev/null
check "a_capped_pair_checkpoint_scores" test $? -eq 0
check "the_report_names_the_checkpoints_cap" grep -q '"instruction_max_tokens": 2$' "$T/pairk.json"
check "the_cap_cuts_the_instruction_first" test "$(field 1 tokens "$T/pairk.scores.jsonl")" = 11
check "a_cut_instruction_counts_as_truncated" grep -q '"truncated": [1-9]' "$T/pairk.json"
"$B" score --model "$T/pair" "${common[@]}" --instruction-field instruction --max-len 9 \
  --out "$T/pair9.json" --scores "$T/pair9.scores.jsonl" "$T/a.jsonl" 2>/dev/null
check "max_len_truncates_a_pair_longest_first" test "$(field 1 tokens "$T/pair9.scores.jsonl")" = 9

# --- the checkpoint decides -------------------------------------------------------
"$B" score --model "$T/pair" "${common[@]}" --out "$T/refused1.json" "$T/a.jsonl" 2>"$T/refused1.err"
rc=$?
check "a_pair_checkpoint_without_instruction_field_is_refused_with_exit_2" test "$rc" -eq 2
check "that_refusal_names_the_config_field_and_the_flag" \
  grep -q -- 'ifs_input.*--instruction-field' "$T/refused1.err"
check "that_refusal_writes_no_report" test ! -e "$T/refused1.json"
"$B" score --model "$T/resp" "${common[@]}" --instruction-field instruction --out "$T/refused2.json" \
  "$T/a.jsonl" 2>"$T/refused2.err"
rc=$?
check "a_response_checkpoint_with_instruction_field_is_refused_with_exit_2" test "$rc" -eq 2
check "that_refusal_names_the_flag_and_the_config_field" \
  grep -q -- '--instruction-field.*ifs_input' "$T/refused2.err"
check "that_refusal_writes_no_report_either" test ! -e "$T/refused2.json"
"$B" score --model "$T/pair" "${common[@]}" --instruction-field instruction --max-len 2 \
  --out "$T/refused3.json" "$T/a.jsonl" 2>/dev/null
check "a_pair_with_room_for_less_than_its_three_specials_is_refused" test $? -eq 2
"$B" score --help | grep -q -- '--instruction-field'
check "score_help_lists_instruction_field" test $? -eq 0

# --- resume: the instruction field is part of the configuration ---------------------
"$B" score --model "$T/pair" "${common[@]}" --instruction-field instruction --out "$T/st.json" \
  --state-dir "$T/state" "$T/a.jsonl" "$T/b.jsonl" 2>/dev/null
check "a_pair_run_with_a_state_folder_finishes" test $? -eq 0
"$B" score --model "$T/pair" "${common[@]}" --instruction-field prompt --resume --out "$T/st2.json" \
  --state-dir "$T/state" "$T/a.jsonl" "$T/b.jsonl" 2>"$T/resume.err"
rc=$?
check "resume_under_another_instruction_field_is_refused" test "$rc" -eq 1
check "the_refusal_names_the_instruction_setting" \
  grep -q "another configuration ('instruction' differs" "$T/resume.err"
"$B" score --model "$T/pair" "${common[@]}" --instruction-field instruction --resume --out "$T/st3.json" \
  --state-dir "$T/state" "$T/a.jsonl" "$T/b.jsonl" 2>/dev/null
check "resume_under_the_same_instruction_field_is_taken" test $? -eq 0
check "and_gives_the_same_report" cmp -s "$T/st.json" "$T/st3.json"
check "which_is_the_report_without_a_state" cmp -s "$T/pair.json" "$T/st3.json"

# --- reduce and compare: a pair run does not mix with a response-only run -------------
for i in 0 1; do
  "$B" score --model "$T/pair" "${common[@]}" --instruction-field instruction --slice "$i/2" \
    --out "$T/slice$i.json" "$T/a.jsonl" "$T/b.jsonl" 2>/dev/null || echo "note: slice $i failed"
done
"$B" reduce -q --no-timings -o "$T/merged.json" "$T/slice0.json" "$T/slice1.json" 2>"$T/reduce.err"
check "slices_of_a_pair_run_merge" test $? -eq 0
check "into_the_single_runs_report" cmp -s "$T/pair.json" "$T/merged.json"
"$B" score --model "$T/resp" "${common[@]}" --out "$T/resp_b.json" "$T/b.jsonl" 2>/dev/null
"$B" reduce -q -o "$T/mixed.json" "$T/slice0.json" "$T/resp_b.json" 2>"$T/mixed.err"
rc=$?
check "reduce_refuses_a_pair_report_with_a_response_only_report_with_exit_3" test "$rc" -eq 3
"$B" score --model "$T/pair" "${common[@]}" --instruction-field prompt --out "$T/prompt_b.json" \
  "$T/b.jsonl" 2>/dev/null
"$B" reduce -q -o "$T/mixed2.json" "$T/slice0.json" "$T/prompt_b.json" 2>"$T/mixed2.err"
rc=$?
check "reduce_refuses_pair_reports_of_different_instruction_fields" test "$rc" -eq 3
check "the_mismatch_names_the_instruction_field" \
  grep -q 'classifier.instruction_field: instruction vs prompt' "$T/mixed2.err"
# A pair checkpoint's config.json differs from a response-only one's, so their
# weights_sha256 differ and that refuses the mix first (above). The input is a
# field of the identity of its own too: reports given the same hashes still
# differ in classifier.input.
sha=$(sed -n 's/.*"weights_sha256": "\([0-9a-f]*\)".*/\1/p' "$T/resp.json")
tsha=$(sed -n 's/.*"tokenizer_sha256": "\([0-9a-f]*\)".*/\1/p' "$T/resp.json")
sed -e "s/\"weights_sha256\": \"[0-9a-f]*\"/\"weights_sha256\": \"$sha\"/" \
    -e "s/\"tokenizer_sha256\": \"[0-9a-f]*\"/\"tokenizer_sha256\": \"$tsha\"/" "$T/pair.json" > "$T/pair_as_resp_sha.json"
sed -e "s/\"weights_sha256\": \"[0-9a-f]*\"/\"weights_sha256\": \"$sha\"/" \
    -e "s/\"tokenizer_sha256\": \"[0-9a-f]*\"/\"tokenizer_sha256\": \"$tsha\"/" "$T/slice0.json" > "$T/slice0_as_resp_sha.json"
"$B" reduce -q -o "$T/mixed3.json" "$T/slice0_as_resp_sha.json" "$T/resp_b.json" 2>"$T/mixed3.err"
rc=$?
check "reduce_refuses_the_mix_by_the_input_itself_when_the_hashes_agree" test "$rc" -eq 3
check "the_mismatch_names_classifier_input" grep -q 'classifier.input: pair vs response' "$T/mixed3.err"
"$B" compare "$T/resp.json" "$T/pair_as_resp_sha.json" > /dev/null 2>"$T/compare.err"
rc=$?
check "compare_refuses_a_pair_report_against_a_response_only_one_with_exit_3" test "$rc" -eq 3
check "compare_names_classifier_input" grep -q 'classifier.input' "$T/compare.err"
"$B" reduce -q --no-timings -o "$T/roundtrip.json" "$T/pair.json" 2>/dev/null
check "a_pair_report_reads_back_and_writes_the_same_bytes" cmp -s "$T/pair.json" "$T/roundtrip.json"
sed 's/"input": "pair"/"input": "pairs"/' "$T/pair.json" > "$T/badinput.json"
"$B" reduce -q -o "$T/bad.json" "$T/badinput.json" 2>"$T/bad.err"
check "an_unknown_classifier_input_is_a_malformed_report" test $? -eq 1

echo "e2e_score_pair: $fails failed"
[ "$fails" -eq 0 ]
