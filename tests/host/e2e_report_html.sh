#!/usr/bin/env bash
# e2e_report_html.sh - `ifscore report --html/--svg` opened in a real
# headless browser (Debian's chromium, installed by scripts/setup.sh):
#   - the page of a run with checkpoint curves and a baseline: one bar per
#     group, one curve per model, the plateau markers, the regressions
#     highlighted, the run's facts; no console message; a screenshot that is
#     not blank;
#   - a page of 227 groups (the AlpacaEval corpus' generator count): one bar
#     each, and the page's own layout time, measured inside the browser, under
#     2 s (navigation start to the end of layout; browser start-up is not
#     counted, so a loaded CI machine does not make it flaky);
#   - every exported SVG is a standalone SVG document; nothing is fetched.
# The reports come from the real `score` with a tiny seeded model over
# generated shards: the figures mean nothing, the structure is the point.
# Needs: IFS_BIN, IFS_SOURCE_DIR, chromium, python3.
set -u
. "${IFS_SOURCE_DIR:?IFS_SOURCE_DIR not set}/tests/lib/e2e.sh"
e2e_begin e2e_report_html
CHECK=$SRC/tests/host/e2e_report_html_check.py
PY=$(command -v python3 || true)
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
    echo "SKIP: no chromium for the headless browser checks (Debian: chromium; scripts/setup.sh installs it)"
    exit 77
fi
if [ -z "$PY" ]; then
    echo "SKIP: no python3 to read the browser's output"
    exit 77
fi
py() { "$PY" "$CHECK" "$@" || fails=$((fails + 1)); }
# Root in a container needs --no-sandbox; a private profile keeps runs apart.
browse() {
    timeout 120 "$CHROME" --headless=new --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$T/profile" --enable-logging=stderr --v=0 --hide-scrollbars "$@"
}

e2e_tiny_model model

# Shards: three SFT-like models over 6 checkpoints (partial and full
# instructions), and 227 generators with 4 responses each.
"$PY" - "$S" <<'EOF' || { echo "making shards failed"; exit 1; }
import json, os, sys
texts = [json.loads(l)["response"] for f in sorted(os.listdir(sys.argv[1]))
         if f.endswith(".jsonl") for l in open(os.path.join(sys.argv[1], f))]
os.makedirs("steps", exist_ok=True)
os.makedirs("many", exist_ok=True)
with open("steps/steps.jsonl", "w") as out:
    i = 0
    for m in ("sft-a", "sft-b", "sft-c"):
        for step in (0, 500, 1000, 2000, 4000, 8000):
            for k in range(12):
                out.write(json.dumps({"id": "%s/%d/%d" % (m, step, k), "model": m, "step": step,
                                      "instruction_type": "partial" if k % 2 else "full",
                                      "response": texts[i % len(texts)]}) + "\n")
                i += 7
with open("many/many.jsonl", "w") as out:
    for g in range(227):
        for k in range(4):
            out.write(json.dumps({"id": "g%03d/%d" % (g, k), "model": "generator-%03d" % g,
                                  "response": texts[(g * 4 + k) % len(texts)]}) + "\n")
EOF
score() { "$B" score --model model --backend cpu --no-progress --format none "$@"; }
score --threshold 0.49258 --group-by model,step --out steps0.json steps || { echo "score failed"; exit 1; }
# A wide plateau tolerance so each random-model curve has a plateau to mark.
"$B" reduce -q --plateau-eps 0.5 -o steps.json steps0.json || { echo "reduce failed"; exit 1; }
score --threshold 0.49258 --group-by model --out many.json many || { echo "score failed"; exit 1; }
# The baseline: sft-b at step 8000 answered everything then (so it regressed).
"$PY" - <<'EOF' || { echo "editing the baseline failed"; exit 1; }
import json
r = json.load(open("steps.json"))
for g in r["groups"]:
    if g["key"] == {"model": "sft-b", "step": "8000"}:
        for t in ("partial", "full", "none"):
            g["counts"][t]["answer_like"] = g["counts"][t]["n"]
json.dump(r, open("baseline.json", "w"), indent=1)
EOF

"$B" report --html steps.html --svg svg --baseline baseline.json steps.json ||
    bad "report_writes_the_page_and_svgs"
"$B" compare baseline.json steps.json -f none --json cmp.json
check "the_baseline_comparison_has_a_regression" test $? -eq 4
"$B" report --html many.html many.json || bad "report_writes_the_227_group_page"
check "the_pages_load_nothing" bash -c "! grep -Eq ' src=|<link|url\\(|@import' steps.html many.html"
check "the_only_urls_are_the_svg_namespace" \
    bash -c "! grep -Eoh 'https?://[^\" ]*' steps.html many.html | grep -qv '^http://www.w3.org/2000/svg\$'"
check "report_without_outputs_prints_the_table" bash -c "'$B' report steps.json | grep -q '^model'"
"$B" report --html x.html nowhere.json 2>/dev/null
check "report_of_a_missing_file_exits_1" test $? -eq 1
"$B" report --html x.html --baseline many.json steps.json 2>err.txt
check "a_baseline_of_other_keys_exits_3" test $? -eq 3

# The console check must be able to fail: a page that logs an error.
printf '<!DOCTYPE html><html><body><script>console.error("boom")</script></body></html>\n' > noisy.html
browse --dump-dom "file://$T/noisy.html" >/dev/null 2>noisy.err
py console-expect noisy.err

for p in steps many; do
    browse --dump-dom "file://$T/$p.html" >"$p.dom" 2>"$p.err" || bad "chromium_opens_$p"
    echo "-- $p.html"
    py console "$p.err"
done
py dom steps.dom steps.json cmp.json
py dom many.dom many.json
py render many.dom 2000
browse --window-size=1100,1800 --screenshot="$T/steps.png" "file://$T/steps.html" >/dev/null 2>&1
py png steps.png
browse --window-size=1100,1800 --screenshot="$T/many.png" "file://$T/many.html" >/dev/null 2>&1
py png many.png
py svg svg

e2e_end
