#!/usr/bin/env bash
# e2e_reduce.sh - `ifscore reduce` end to end, on reports written by the real
# `ifscore score` over the example shards with a tiny seeded model:
#   - reports of slices (2 and 3 ways), merged in any order, equal the report
#     of one run over everything, byte for byte (timings aside);
#   - score's own report does not depend on threads, batch budget or the
#     order shards are named in;
#   - reduce refuses a shard counted twice (unless --allow-overlap), reports
#     from different classifiers or thresholds, damaged files, bad usage;
#   - text/csv/markdown/json tables; curves and the plateau over `step`.
# Needs: IFS_BIN, IFS_SOURCE_DIR, IFS_TEST_TMP (set by CTest).
set -u
. "${IFS_SOURCE_DIR:?IFS_SOURCE_DIR not set}/tests/lib/e2e.sh"
e2e_begin e2e_reduce
if ! "$B" score --help >/dev/null 2>&1; then
    echo "SKIP: this ifscore has no score command"
    exit 77
fi
if ! ls "$S"/*.jsonl >/dev/null 2>&1; then
    echo "SKIP: no example shards in $S"
    exit 77
fi
# The report without its timings object (the one part allowed to differ).
strip() {
    awk '/^  "timings": \{/ || /^}$/ {exit} {l[n++] = $0}
         END {for (i = 0; i < n; i++) {s = l[i]; if (i == n - 1) sub(/,$/, "", s); print s}}' "$1"
}
same() { cmp -s <(strip "$1") <(strip "$2"); }

# A vocabulary that covers the examples (whole words, else single characters)
# and a tiny seeded model with random (not zero) biases, so probabilities spread.
e2e_tiny_model model
"$B" gen-model --out model2 --seed 8 --hidden 32 --layers 2 --heads 2 --intermediate 64 \
    --max-position 128 --vocab vocab.txt --init test >/dev/null || { echo "gen-model failed"; exit 1; }

# The random model's probabilities sit close together; a threshold inside
# their range makes both labels occur (it must be the same for every run).
TH=0.49258
score() { "$B" score --model model --backend cpu --threshold $TH --no-progress --format none "$@"; }

for G in model model,step; do
    tag=${G/,/_}
    score --group-by $G --no-timings --out all_$tag.json "$S" || bad "score_over_everything_runs ($G)"
    score --group-by $G --out a_$tag.json --slice 0/2 "$S" &&
    score --group-by $G --out b_$tag.json --slice 1/2 "$S" &&
    for i in 0 1 2; do score --group-by $G --out c${i}_$tag.json --slice $i/3 "$S" || exit 1; done ||
        bad "score_slices_run ($G)"

    "$B" reduce -q -o ab_$tag.json a_$tag.json b_$tag.json
    check "reduce_of_two_slices_exits_0 ($G)" test $? -eq 0
    check "two_slices_merged_equal_one_run_over_everything ($G)" same ab_$tag.json all_$tag.json
    "$B" reduce -q -o ba_$tag.json b_$tag.json a_$tag.json
    check "the_order_of_the_reports_does_not_matter ($G)" same ba_$tag.json all_$tag.json
    "$B" reduce -q -o c_$tag.json c2_$tag.json c0_$tag.json c1_$tag.json
    check "three_slices_merged_in_another_order_equal_one_run ($G)" same c_$tag.json all_$tag.json
    "$B" reduce -q -o again_$tag.json all_$tag.json
    check "reducing_one_report_reproduces_it ($G)" same again_$tag.json all_$tag.json
    "$B" reduce -q -o abc_$tag.json ab_$tag.json
    check "a_merged_report_reduces_again_to_itself ($G)" same abc_$tag.json ab_$tag.json
done
check "slices_carry_timings_and_merged_timings_are_summed" grep -q '"wall_s"' ab_model.json
check "rejected_lines_are_counted_by_reason" grep -q '"missing_group_key": 96' all_model_step.json
check "every_line_is_scored_or_rejected" grep -q '"read": 264,' all_model_step.json

# score's report does not depend on the thread counts or on the order shards
# are named in: byte for byte.
score --group-by model --no-timings --threads 1 --cpu-threads 1 --out t1.json "$S"
check "score_report_is_byte_identical_with_one_thread" cmp -s t1.json all_model.json
score --group-by model --no-timings --threads 4 --cpu-threads 2 \
    --out t2.json $(ls "$S"/*.jsonl* | sort -r)
check "score_report_is_byte_identical_for_shards_named_in_reverse" cmp -s t2.json all_model.json
# A different batch budget changes which records share a forward call. Every
# label count must stay the same here (no record of this data sits within
# float rounding of the threshold); the probability sums are compared apart,
# because the cpu backend's logits move in their last bits with the batch
# composition, and p_answer_sum_1e9 resolves 1e-9.
score --group-by model --no-timings --max-batch-tokens 300 --max-batch-seqs 3 \
    --chunk-records 7 --out t3.json "$S"
mask() { sed 's/"p_answer_sum_1e9": "[0-9]*"/"p_answer_sum_1e9": "-"/; s/"mean_p_answer": [0-9.]*/"mean_p_answer": -/' "$1"; }
check "labels_and_counts_do_not_depend_on_the_batch_budget" cmp -s <(mask t3.json) <(mask all_model.json)
nd=$(diff t3.json all_model.json | grep -c '^<.*p_answer_sum_1e9')
echo "note: $nd of the per-type probability sums differ with a tiny batch budget (backend last-bit drift)"

# Refusals.
"$B" reduce -q a_model.json a_model.json 2>err.txt
rc=$?
check "a_shard_in_two_reports_is_refused_with_exit_3" test $rc -eq 3
check "the_refusal_names_the_problem" grep -q "in both reports" err.txt
"$B" reduce -q --allow-overlap --allow-partial -o twice.json a_model.json a_model.json
rc=$?
n1=$(grep -m1 '"scored":' a_model.json | tr -dc 0-9)
n2=$(grep -m1 '"scored":' twice.json | tr -dc 0-9)
check "allow_overlap_merges_and_counts_twice" test $rc -eq 0 -a "$n2" = $((2 * n1))
score --group-by model --threshold 0.6 --out thr.json --slice 1/2 "$S" 2>/dev/null ||
    "$B" score --model model --backend cpu --threshold 0.6 --no-progress --format none \
        --group-by model --out thr.json --slice 1/2 "$S"
"$B" reduce -q a_model.json thr.json 2>err.txt
rc=$?
check "reports_with_another_threshold_are_refused_with_exit_3" test $rc -eq 3
check "the_mismatch_names_the_field" grep -q "threshold" err.txt
"$B" score --model model2 --backend cpu --threshold $TH --no-progress --format none \
    --group-by model --out other.json --slice 1/2 "$S"
"$B" reduce -q a_model.json other.json 2>err.txt
rc=$?
check "reports_from_another_classifier_are_refused_with_exit_3" test $rc -eq 3
check "the_mismatch_names_the_weights_hash" grep -q "weights_sha256" err.txt
# Two reports differing only in the tokenizer's identity hash, and one whose
# hash is absent (a report from before the field): both refused.
sed 's/"tokenizer_sha256": "[0-9a-f]*"/"tokenizer_sha256": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"/' \
    b_model.json > b_tok.json
"$B" reduce -q a_model.json b_tok.json 2>err.txt
rc=$?
check "reports_differing_only_in_tokenizer_sha256_are_refused_with_exit_3" test $rc -eq 3
check "the_mismatch_names_the_tokenizer_hash" grep -q "classifier.tokenizer_sha256" err.txt
grep -v '"tokenizer_sha256"' b_model.json > b_notok.json
"$B" reduce -q a_model.json b_notok.json 2>err.txt
rc=$?
check "a_report_without_tokenizer_sha256_is_refused_against_one_with_it" test $rc -eq 3
check "the_missing_hash_is_shown_as_absent" grep -q "(absent)" err.txt
"$B" reduce -q a_model.json b_model_step.json 2>err.txt
check "reports_grouped_differently_are_refused_with_exit_3" test $? -eq 3
head -c 500 a_model.json > cut.json
"$B" reduce -q cut.json b_model.json 2>err.txt
rc=$?
check "a_cut_off_report_is_refused_with_exit_1" test $rc -eq 1
check "the_error_names_the_file" grep -q "cut.json" err.txt
sed 's/"scored": \([0-9]*\), "rejected"/"scored": 1\1, "rejected"/' b_model.json > lie.json
"$B" reduce -q a_model.json lie.json 2>err.txt
check "a_report_whose_counts_do_not_add_up_is_refused" test $? -eq 1
"$B" reduce -q missing.json 2>/dev/null
check "a_missing_report_exits_1" test $? -eq 1
"$B" reduce 2>/dev/null
check "no_reports_is_a_usage_error" test $? -eq 2
"$B" reduce -f xml a_model.json 2>/dev/null
check "an_unknown_format_is_a_usage_error" test $? -eq 2
"$B" reduce --curve-key nope a_model.json 2>/dev/null
check "a_curve_key_that_is_not_grouped_by_is_a_usage_error" test $? -eq 2
"$B" reduce --help | grep -q "usage: ifscore reduce"
check "help_prints_usage" test $? -eq 0

# Formats.
ngroups=$(grep -m1 '"groups":' all_model.json | tr -dc 0-9)
"$B" reduce -f csv a_model.json b_model.json > t.csv
check "csv_has_a_header_and_one_row_per_group" test "$(wc -l < t.csv)" -eq $((ngroups + 1))
check "csv_header_names_the_counts" grep -q '^model,n,n_partial,n_full,n_none,answer_like,' t.csv
"$B" reduce -f markdown a_model.json b_model.json > t.md
check "markdown_is_a_table" grep -q '^| model | n | IFS | IFS_partial | IFS_full | gap | 95% CI |$' t.md
"$B" reduce a_model.json b_model.json > t.txt
check "text_table_accounts_for_every_line" grep -q '^read 264 lines from 5 inputs: 264 scored, 0 rejected$' t.txt
"$B" reduce -f json -o j.json a_model.json b_model.json > j.out
check "json_format_prints_the_written_report" cmp -s j.json j.out

# Curves over step, and presentation overrides.
check "curves_are_drawn_over_the_numeric_step_key" grep -q '"key": "step"' all_model_step.json
check "the_curve_has_a_plateau_entry" grep -q '"plateau": ' all_model_step.json
"$B" reduce --no-curves -o nc.json all_model_step.json > nc.txt
check "no_curves_leaves_them_out" grep -q '"curves": null' nc.json
check "no_curves_leaves_the_plateau_out_of_the_table" test "$(grep -c plateau nc.txt)" -eq 0
"$B" reduce --plateau-eps 1 --plateau-min-after 2 all_model_step.json > eps.txt
check "an_epsilon_of_one_plateaus_at_the_first_checkpoint" grep -q 'model=example-sft-7b: 0 (IFS' eps.txt

# Untrusted report files: a FIFO and a character device are refused at once.
mkfifo fifo.json
rc=0; timeout 20 "$B" reduce fifo.json > /dev/null 2> fifo.err || rc=$?
check "a_fifo_report_is_refused_not_waited_on" test "$rc" -eq 1
check "the_fifo_refusal_says_why" grep -q "not a regular file" fifo.err
rc=0; timeout 20 "$B" reduce /dev/zero > /dev/null 2> zero.err || rc=$?
check "a_device_report_is_refused" test "$rc" -eq 1

if [ $fails -ne 0 ]; then
    echo "e2e_reduce: $fails failed (work folder: $T)"
    exit 1
fi
echo "e2e_reduce: all passed"
