#!/usr/bin/env bash
# e2e_compare_outputs.sh - `ifscore compare` as a CI job sees it, on reports
# written by the real `score` (a tiny seeded model over the example shards)
# and edited counts:
#   - exit codes: 4 regression, 0 none, 3 identity or grouping differ (the
#     field named), 1 unreadable or malformed input, 2 usage;
#   - JUnit valid against tests/host/junit.xsd (xmllint), its counts agreeing
#     with its testcases; markdown tables well formed; JSON complete;
#   - groups on one side only, --require-same-groups, --max-drop, --metric;
#   - a hand-edited ratio in a report changes nothing (counts are read).
# Needs: IFS_BIN, IFS_SOURCE_DIR, xmllint, python3.
set -u
. "${IFS_SOURCE_DIR:?IFS_SOURCE_DIR not set}/tests/lib/e2e.sh"
e2e_begin e2e_compare_outputs
XSD=$SRC/tests/host/junit.xsd
PY=$(command -v python3 || true)
if ! command -v xmllint >/dev/null; then
    echo "SKIP: no xmllint to validate JUnit against $XSD (Debian: libxml2-utils)"
    exit 77
fi
if [ -z "$PY" ]; then
    echo "SKIP: no python3 to edit reports and read the outputs"
    exit 77
fi

e2e_tiny_model model
score() { "$B" score --model model --backend cpu --no-progress --format none "$@"; }
mkdir -p part
cp "$S"/example-base-7b.jsonl "$S"/example-chat-1b.jsonl "$S"/example-chat-7b.jsonl part/
score --threshold 0.49258 --out base.json "$S"/*.jsonl || { echo "score failed"; exit 1; }
score --threshold 0.49258 --out part.json part || { echo "score failed"; exit 1; }
score --threshold 0.6 --out other_threshold.json "$S"/*.jsonl || { echo "score failed"; exit 1; }
score --threshold 0.49258 --group-by model,step --out steps.json "$S" || { echo "score failed"; exit 1; }

# Candidates made by editing counts (the reader recomputes every ratio):
#   fell.json: example-chat-7b's answer-like counts set to 0 (a regression);
#   tampered.json: base.json with every ratio written as 0.999999.
"$PY" - <<'EOF' || { echo "editing reports failed"; exit 1; }
import json, re
r = json.load(open("base.json"))
for g in r["groups"]:
    if g["key"]["model"] == "example-chat-7b":
        for t in ("partial", "full", "none"):
            g["counts"][t]["answer_like"] = 0
json.dump(r, open("fell.json", "w"), indent=1)
text = open("base.json").read()
text = re.sub(r'("(ifs|ifs_partial|ifs_full|mean_p_answer)": )[0-9.]+', r'\g<1>0.999999', text)
open("tampered.json", "w").write(text)
EOF
mkdir -p tampered && mv tampered.json tampered/base.json

# --- exit codes ---------------------------------------------------------------
check "a_regression_exits_4" code 4 "$B" compare base.json fell.json --junit fell.xml --json fell.json.out --markdown fell.md
check "no_regression_exits_0" code 0 "$B" compare base.json base.json --junit same.xml
check "a_tolerated_drop_exits_0" code 0 "$B" compare --max-drop 0.9 base.json fell.json
check "gating_on_another_metric_still_sees_it" code 4 "$B" compare --metric all base.json fell.json
check "a_different_threshold_exits_3" code 3 "$B" compare base.json other_threshold.json
check "the_differing_field_is_named" grep -q 'reports differ in classifier.threshold/near_margin: 0.492580/0.010000 vs 0.600000/0.010000' err.txt
check "allow_classifier_change_compares_anyway" code 4 "$B" compare --allow-classifier-change -f json base.json other_threshold.json
check "the_allowed_difference_is_reported" grep -q '"identity_difference": "reports differ in classifier.threshold' out.txt
check "different_group_by_keys_exit_3_even_when_allowed" code 3 "$B" compare --allow-classifier-change base.json steps.json
check "the_grouping_difference_is_named" grep -q 'grouping.keys model vs model,step' err.txt
check "a_missing_report_exits_1" code 1 "$B" compare base.json nowhere.json
check "the_missing_path_is_named" grep -q 'nowhere.json' err.txt
printf '{"schema": "ifscore-report", "schema_version": 1, "classifier": {' > cut.json
check "a_malformed_report_exits_1" code 1 "$B" compare base.json cut.json
check "the_malformed_file_is_named" grep -q 'cut.json' err.txt
check "one_report_is_a_usage_error" code 2 "$B" compare base.json
check "an_unknown_metric_is_a_usage_error" code 2 "$B" compare --metric gap base.json base.json
check "a_max_drop_above_one_is_a_usage_error" code 2 "$B" compare --max-drop 2 base.json base.json
check "help_exits_0" code 0 "$B" compare --help

# --- groups on one side -------------------------------------------------------
check "missing_groups_alone_pass_the_gate" code 0 "$B" compare -f json --junit part.xml base.json part.json
check "missing_groups_are_listed" grep -q '"only_in_baseline": 1' out.txt
check "require_same_groups_fails_the_gate" code 4 "$B" compare --require-same-groups base.json part.json
check "the_text_says_why" grep -q 'only in the baseline' out.txt

# --- a hand-edited ratio changes nothing ---------------------------------------
(cd tampered && "$B" compare ../base.json base.json -f json > ../tampered.out)
mkdir -p plain && cp base.json plain/base.json
(cd plain && "$B" compare ../base.json base.json -f json > ../plain.out)
check "a_hand_edited_ratio_does_not_change_the_comparison" cmp -s tampered.out plain.out

# --- the outputs ----------------------------------------------------------------
for x in fell.xml same.xml part.xml; do
    check "junit_${x%.xml}_validates_against_the_junit_schema" xmllint --noout --schema "$XSD" "$x"
done
"$PY" - <<'EOF'
import json, sys
import xml.etree.ElementTree as ET
fails = 0
def check(name, cond):
    global fails
    print(("ok   " if cond else "FAIL ") + name)
    fails += not cond
for f in ("fell.xml", "same.xml", "part.xml"):
    root = ET.parse(f).getroot()
    s = root.find("testsuite")
    cases = s.findall("testcase")
    nf = sum(c.find("failure") is not None for c in cases)
    ns = sum(c.find("skipped") is not None for c in cases)
    check(f + "_counts_agree_with_its_testcases",
          int(s.get("tests")) == len(cases) == int(root.get("tests")) and
          int(s.get("failures")) == nf == int(root.get("failures")) and
          int(s.get("skipped")) == ns)
fell = ET.parse("fell.xml").getroot().find("testsuite")
names = [c.get("name") for c in fell.findall("testcase") if c.find("failure") is not None]
check("junit_fails_the_regressed_group", "example-chat-7b" in names)
check("junit_failure_says_what_fell",
      "IFS " in fell.find("testcase[@name='example-chat-7b']/failure").get("message"))
part = ET.parse("part.xml").getroot().find("testsuite")
check("junit_skips_a_group_on_one_side",
      [c.get("name") for c in part.findall("testcase") if c.find("skipped") is not None]
      == ["example-base-7b+suffix"])
c = json.load(open("fell.json.out"))
check("json_names_the_regressed_group", c["regressed"] == ["example-chat-7b"])
check("json_has_a_row_per_group", len(c["groups"]) == 4 and c["total"]["label"] == "(whole run)")
md = open("fell.md").read().splitlines()
rows = [l for l in md if l.startswith("|")]
cells = {l.count("|") - l.count("\\|") for l in rows}
check("markdown_rows_all_have_the_same_cell_count", len(cells) == 1 and len(rows) == 2 + 5)
check("markdown_opens_with_the_verdict", md[0].startswith("### ifscore compare: "))
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] || fails=$((fails + 1))

e2e_end
