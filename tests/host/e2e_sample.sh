#!/usr/bin/env bash
# e2e_sample.sh - `ifscore sample` on the scores file of a real `score` run
# (a tiny seeded model over the example shards):
#   - N records per group, each with the response text of the shard line its
#     score names (cross-checked in Python), as JSONL and markdown;
#   - the same seed gives the same records whatever the scores file's order,
#     another seed others, a larger N extends a smaller one's sample;
#   - filters: decision, label, near the threshold, probability range;
#   - bad input: a malformed scores line, a missing, edited or short shard,
#     each an exit 1 naming the file and line; usage errors exit 2.
# Needs: IFS_BIN, IFS_SOURCE_DIR, python3, zstd.
set -u
. "${IFS_SOURCE_DIR:?IFS_SOURCE_DIR not set}/tests/lib/e2e.sh"
e2e_begin e2e_sample
PY=$(command -v python3 || true)
if [ -z "$PY" ] || ! command -v zstd >/dev/null; then
    echo "SKIP: needs python3 and zstd to read the outputs"
    exit 77
fi

e2e_tiny_model model
mkdir -p shards && cp "$S"/*.jsonl "$S"/*.jsonl.zst shards/
# A record whose response holds a code fence: markdown must not be broken by it.
printf '%s\n' '{"id": "fence-1", "model": "example-fence", "response": "Here:\n```sh\nls\n```\ndone"}' \
    > shards/example-fence.jsonl
TH=0.49258
"$B" score --model model --backend cpu --threshold $TH --no-progress --format none \
    --out report.json --scores scores.jsonl.zst shards || { echo "score failed"; exit 1; }
zstd -dcq scores.jsonl.zst > scores.jsonl

check "sample_exits_0" code 0 "$B" sample --scores scores.jsonl.zst -n 3 --seed 11
cp out.txt s3.jsonl
"$B" sample --scores scores.jsonl.zst -n 3 --seed 11 > again.jsonl 2>/dev/null
check "the_same_seed_gives_the_same_sample" cmp -s s3.jsonl again.jsonl
"$B" sample --scores scores.jsonl.zst -n 3 --seed 12 > other.jsonl 2>/dev/null
check "another_seed_gives_another_sample" bash -c "! cmp -s s3.jsonl other.jsonl"
"$PY" -c "import sys; l=open('scores.jsonl').readlines(); open('reversed.jsonl','w').writelines(l[::-1])"
"$B" sample --scores reversed.jsonl -n 3 --seed 11 > rev.jsonl 2>/dev/null
check "the_sample_does_not_depend_on_the_files_order" cmp -s s3.jsonl rev.jsonl
"$B" sample --scores scores.jsonl.zst -n 5 --seed 11 > s5.jsonl 2>/dev/null
for f in answer-like not-answer-like; do
    "$B" sample --scores scores.jsonl.zst -n 4 --$f > $f.jsonl 2>/dev/null || bad "sample_--$f_runs"
done
"$B" sample --scores scores.jsonl.zst -n 1000 --label LABEL_0 > label.jsonl 2>/dev/null || bad "sample_--label_runs"
"$B" sample --scores scores.jsonl.zst -n 1000 --near 0.0005 --threshold $TH > near.jsonl 2>/dev/null || bad "sample_--near_runs"
"$B" sample --scores scores.jsonl.zst -n 1000 --p-min 0.4926 --p-max 0.4927 > range.jsonl 2>/dev/null || bad "sample_--p-range_runs"
"$B" sample --scores scores.jsonl.zst -n 2 -f markdown > s.md 2>/dev/null || bad "sample_markdown_runs"

"$PY" - "$TH" <<'EOF'
import json, sys
th = float(sys.argv[1])
fails = 0
def check(name, cond, detail=""):
    global fails
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": " + detail))
    fails += not cond
def load(f):
    return [json.loads(l) for l in open(f)]
scores = load("scores.jsonl")
groups = {}
for s in scores:
    groups.setdefault(s["model"], []).append(s)
s3 = load("s3.jsonl")
per = {}
for r in s3:
    per.setdefault(r["group"]["model"], []).append(r)
check("n_records_per_group_or_all_of_a_small_group",
      all(len(per.get(m, [])) == min(3, len(v)) for m, v in groups.items()),
      str({m: len(v) for m, v in per.items()}))
# Every record's text is the shard line its score names.
def shard_line(path, line):
    import subprocess
    data = subprocess.run(["zstd", "-dcq", path], capture_output=True).stdout if path.endswith(".zst") \
        else open(path, "rb").read()
    return json.loads(data.decode().split("\n")[line - 1])
good = 0
for r in s3:
    src = shard_line(r["shard"], r["line"])
    good += src["response"] == r["response"] and src["id"] == r["id"] and \
        src.get("instruction") == r["instruction"]
check("every_text_is_the_scored_shard_line", good == len(s3), "%d of %d" % (good, len(s3)))
score_of = {(s["shard"], s["line"]): s for s in scores}
check("scores_fields_are_carried_over",
      all(score_of[(r["shard"], r["line"])]["p_answer"] == r["p_answer"] and
          score_of[(r["shard"], r["line"])]["answer_like"] == r["answer_like"] for r in s3))
s5 = load("s5.jsonl")
key = lambda r: (r["shard"], r["line"])
check("a_larger_n_extends_the_smaller_sample", set(map(key, s3)) <= set(map(key, s5)))
al, nal = load("answer-like.jsonl"), load("not-answer-like.jsonl")
check("answer_like_keeps_only_answer_like", al and all(r["answer_like"] for r in al))
check("not_answer_like_keeps_only_the_others", nal and not any(r["answer_like"] for r in nal))
lab = load("label.jsonl")
check("label_keeps_only_that_label",
      len(lab) == sum(s["label"] == "LABEL_0" for s in scores) and
      all(r["label"] == "LABEL_0" for r in lab))
near = load("near.jsonl")
want = sum(abs(s["p_answer"] - th) < 0.0005 for s in scores)
check("near_keeps_the_records_near_the_threshold",
      len(near) == want and all(abs(r["p_answer"] - th) < 0.0005 for r in near),
      "%d vs %d" % (len(near), want))
rng = load("range.jsonl")
check("a_probability_range_keeps_what_lies_in_it",
      len(rng) == sum(0.4926 <= s["p_answer"] <= 0.4927 for s in scores) and
      all(0.4926 <= r["p_answer"] <= 0.4927 for r in rng))
md = open("s.md").read()
check("markdown_has_a_heading_per_group", md.count("\n## ") == len(groups))
check("markdown_fences_outlast_the_text", "````text\nHere:\n```sh\nls\n```\ndone\n````" in md)
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] || fails=$((fails + 1))

# --- bad input ------------------------------------------------------------------
{ head -3 scores.jsonl; echo '{"shard": "x", "line": "seven"}'; } > bad.jsonl
check "a_malformed_scores_line_exits_1" code 1 "$B" sample --scores bad.jsonl
check "the_bad_line_is_named" grep -q 'bad.jsonl line 4 (byte [0-9]*): "line" is missing or not a line number' err.txt
{ head -3 scores.jsonl; echo 'not json'; } > bad2.jsonl
check "a_line_that_is_not_json_exits_1" code 1 "$B" sample --scores bad2.jsonl
check "it_is_named_too" grep -q 'bad2.jsonl line 4 (byte [0-9]*): not valid JSON' err.txt
check "a_missing_scores_file_exits_1" code 1 "$B" sample --scores nowhere.jsonl
mkdir -p elsewhere && mv shards elsewhere/
check "a_missing_shard_exits_1" code 1 "$B" sample --scores scores.jsonl
check "the_missing_shard_is_named_with_a_hint" grep -q 'shards/.*--shard-root' err.txt
check "shard_root_finds_them" code 0 "$B" sample --scores scores.jsonl --shard-root elsewhere
check "no_text_reads_no_shard" code 0 "$B" sample --scores scores.jsonl --no-text
check "no_text_prints_no_response" bash -c "! grep -q '\"response\"' out.txt"
mv elsewhere/shards . && rmdir elsewhere
cp shards/example-chat-7b.jsonl chat7b.orig
"$PY" - <<'EOF'
import json
lines = open("shards/example-chat-7b.jsonl").read().splitlines()
r = json.loads(lines[0]); r["id"] = "changed"; lines[0] = json.dumps(r)
open("shards/example-chat-7b.jsonl", "w").write("\n".join(lines) + "\n")
EOF
check "a_shard_whose_record_changed_exits_1" code 1 "$B" sample --scores scores.jsonl -n 100
check "the_changed_id_is_named" grep -q 'example-chat-7b.jsonl line 1: the record there has id changed, the scores file says example-chat-7b/0-full' err.txt
cp chat7b.orig shards/example-chat-7b.jsonl
head -2 shards/example-chat-1b.jsonl > short.jsonl && mv short.jsonl shards/example-chat-1b.jsonl
check "a_shard_shorter_than_its_scores_exits_1" code 1 "$B" sample --scores scores.jsonl -n 100
check "the_missing_line_is_named" grep -Eq 'example-chat-1b.jsonl has 2 lines, but the scores file names line [0-9]+' err.txt
check "no_scores_is_a_usage_error" code 2 "$B" sample
check "n_0_is_a_usage_error" code 2 "$B" sample --scores scores.jsonl -n 0
check "an_inverted_range_is_a_usage_error" code 2 "$B" sample --scores scores.jsonl --p-min 0.6 --p-max 0.4
check "an_unknown_group_key_is_named" code 1 "$B" sample --scores scores.jsonl --group-by nope
check "the_key_is_named" grep -q 'no string field "nope"' err.txt

e2e_end
