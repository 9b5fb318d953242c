#!/usr/bin/env bash
# e2e_compare.sh - the nightly regression gate, end to end, with the default
# classifier (all-MiniLM-L6-v2 + models/ifs-tone-minilm-l6) on the CPU:
#   - a baseline run scores four example models;
#   - a candidate in which one model's responses were replaced by base-model
#     ones (continuations of the prompt, the same instructions) makes
#     `ifscore compare` exit 4 and name exactly that model, in its JSON,
#     JUnit and markdown outputs;
#   - an unchanged candidate (the same shards scored again, other thread
#     counts) exits 0 with every change exactly zero.
# Needs: IFS_BIN, IFS_SOURCE_DIR, IFS_MODELS_DIR (the encoder), python3.
set -u
. "${IFS_SOURCE_DIR:?IFS_SOURCE_DIR not set}/tests/lib/e2e.sh"
e2e_begin e2e_compare
ENC=${IFS_MODELS_DIR:-$SRC/.cache/models}/all-MiniLM-L6-v2
HEAD=$SRC/models/ifs-tone-minilm-l6
PY=$(command -v python3 || true)
if [ ! -f "$ENC/model.safetensors" ] || [ ! -f "$ENC/vocab.txt" ]; then
    echo "SKIP: no all-MiniLM-L6-v2 encoder in $ENC (scripts/setup.sh unpacks it)"
    exit 77
fi
if [ ! -f "$HEAD/head.safetensors" ]; then
    echo "SKIP: no default head in $HEAD"
    exit 77
fi
if [ -z "$PY" ]; then
    echo "SKIP: no python3 to build the candidate shards and read the outputs"
    exit 77
fi

"$B" attach-head --encoder "$ENC" --head "$HEAD" --out clf >/dev/null ||
    { echo "attach-head failed"; exit 1; }

# Nightly 1 (the baseline) and the candidate: example-chat-7b's records keep
# their ids and instructions, but each response is example-base-7b's answer to
# the same instruction: the model now continues prompts instead of answering.
mkdir -p base cand
for m in example-base-7b example-base-7b_suffix example-chat-1b example-chat-7b; do
    cp "$S/$m.jsonl" base/
done
"$PY" - base cand <<'EOF' || { echo "making the candidate failed"; exit 1; }
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
base = {}
for line in open(os.path.join(src, "example-base-7b.jsonl"), encoding="utf-8"):
    r = json.loads(line)
    base[r["id"].split("/", 1)[1]] = r["response"]
for name in os.listdir(src):
    if name != "example-chat-7b.jsonl":
        shutil.copy(os.path.join(src, name), dst)
replaced = 0
with open(os.path.join(dst, "example-chat-7b.jsonl"), "w", encoding="utf-8") as out:
    for line in open(os.path.join(src, "example-chat-7b.jsonl"), encoding="utf-8"):
        r = json.loads(line)
        r["response"] = base[r["id"].split("/", 1)[1]]
        replaced += 1
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
assert replaced == 24, replaced
EOF

score() { "$B" score --model clf --backend cpu --group-by model --no-progress --format none "$@"; }
score --threads 2 --out base.json base || bad "the_baseline_run_scores"
score --threads 2 --out cand.json cand || bad "the_candidate_run_scores"
score --threads 1 --cpu-threads 1 --out again.json base || bad "the_unchanged_rerun_scores"

"$B" compare base.json cand.json --json cmp.json --junit cmp.xml --markdown cmp.md > cmp.txt
rc=$?
check "a_candidate_with_base_model_answers_exits_with_the_regression_code_4" test $rc -eq 4
"$PY" - cmp.json cmp.xml <<'EOF'
import json, sys
import xml.etree.ElementTree as ET
c = json.load(open(sys.argv[1]))
fails = 0
def check(name, cond):
    global fails
    print(("ok   " if cond else "FAIL ") + name)
    fails += not cond
check("compare_names_exactly_the_changed_model", c["regressed"] == ["example-chat-7b"])
check("the_result_counts_one_regressed_group", c["result"]["regressed_groups"] == 1)
g = {x["label"]: x for x in c["groups"]}
m = g["example-chat-7b"]["metrics"]["ifs"]
check("its_ifs_fell_significantly", m["delta"] < 0 and m["delta_ci95"][1] < 0)
check("the_other_models_did_not_change",
      all(x["metrics"]["ifs"]["delta"] == 0 for k, x in g.items() if k != "example-chat-7b"))
check("the_counts_behind_the_change_are_given",
      m["baseline"]["n"] == 24 and m["candidate"]["n"] == 24)
suite = ET.parse(sys.argv[2]).getroot().find("testsuite")
failed = [t.get("name") for t in suite.findall("testcase")
          if t.find("failure") is not None and t.get("classname") == "ifscore.compare.group"]
check("junit_fails_exactly_that_models_testcase", failed == ["example-chat-7b"])
check("junit_has_a_testcase_per_model_and_the_run", len(suite.findall("testcase")) == 5)
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] || fails=$((fails + 1))
check "markdown_puts_the_regressed_model_first_in_bold" \
    grep -q '^| \*\*REGRESSION\*\* | example-chat-7b |' cmp.md
check "the_text_table_names_it_first" \
    bash -c "awk '/^status/{getline; print; exit}' cmp.txt | grep -q '^REGRESSION  example-chat-7b'"

"$B" compare base.json again.json --json same.json > same.txt
rc=$?
check "an_unchanged_candidate_exits_0" test $rc -eq 0
check "an_unchanged_candidate_has_no_regression" grep -q '"gate_failed": false' same.json
check "an_unchanged_candidate_changes_nothing" \
    bash -c "! grep -q '\"delta\": -\\|\"delta\": [1-9]\\|\"delta\": 0\\.0*[1-9]' same.json"
check "the_text_says_no_regression" grep -q '^result: no regression (4 groups on both sides)' same.txt

e2e_end
