#!/usr/bin/env bash
# e2e_classifier_data.sh - scripts/build_classifier_data.sh on the real shared
# data (AlpacaEval's 227 generators, GPTeacher, HH), then every promise of the
# two sets checked independently, in Python, from the records and the pair
# records they came from: labels per kind, positives that are their pair's
# response, Ic a suffix of the instruction, pair inputs that are I or a
# prefix of it, no text twice, labels balanced per split and length bucket
# (words counted again), the selfinstruct instructions only in holdout, no
# instruction and no near-duplicate instruction (word-3-shingle Jaccard >= 0.6,
# computed exactly) in two splits, the cap per instruction, the manifest's
# counts; and the same set from the inputs given in another order.
# Skips (77) when the shared data is absent.
set -u
BIN=${IFS_BIN:?IFS_BIN not set}
SRC=${IFS_SOURCE_DIR:?}
SHARED=${IFS_SHARED_DIR:?}
T=${IFS_TEST_TMP:?}/classifier-data
for f in "$SHARED/data/alpaca_eval_outputs" "$SHARED/data/instruction_sources/gpteacher-roleplay.json" \
         "$SHARED/data/instruction_sources/hh-rlhf-harmless-base-test.jsonl.gz"; do
  if [ ! -e "$f" ]; then
    echo "SKIP: $f is not there (the shared data is needed)"
    exit 77
  fi
done
PY=${IFS_PYTHON:-python3}
[ -x "$PY" ] || PY=python3
rm -rf "$T" && mkdir -p "$T"
fails=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

start=$(date +%s)
IFS_BIN=$BIN SHARED=$SHARED bash "$SRC/scripts/build_classifier_data.sh" "$T/out" > "$T/build.log" 2>&1
rc=$?
tail -n 60 "$T/build.log"
echo "the script took $(( $(date +%s) - start )) s"
check "the_script_builds_both_sets" test "$rc" = 0

# the same set, the inputs named in another order (hh first, AlpacaEval last)
"$BIN" build-responses "$T/out/pairs/hh" "$T/out/pairs/gpteacher" "$T/out/pairs/ae" --out "$T/again" \
  --seed 1 \
  --positive-models "$(grep -o '"positive_models":"[^"]*"' "$T/out/responses/manifest.json" | cut -d'"' -f4)" \
  --terse-models "$(grep -o '"terse_models":"[^"]*"' "$T/out/responses/manifest.json" | cut -d'"' -f4)" \
  --terse-max-words 64 \
  --negative-mix "$(grep -o '"negative_mix":"[^"]*"' "$T/out/responses/manifest.json" | cut -d'"' -f4)" \
  --holdout-source 'alpaca_eval:selfinstruct' --near-duplicates 0.6 --length-match \
  --max-per-group 8 --negatives 2 2> "$T/again.log"
check "it_builds_again_from_the_inputs_in_another_order" test $? = 0
zstd -dc "$T/out/responses/responses-00000.jsonl.zst" | sort > "$T/a.sorted"
zstd -dc "$T/again/responses-00000.jsonl.zst" | sort > "$T/b.sorted"
check "the_same_records_come_out_whatever_the_input_order" \
  bash -c "test -s '$T/a.sorted' && cmp -s '$T/a.sorted' '$T/b.sorted'"

"$PY" - "$T/out" <<'PYEOF'
import collections, json, os, re, subprocess, sys
out = sys.argv[1]
bad = collections.Counter()

def lines(folder):
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jsonl.zst"):
            data = subprocess.run(["zstd", "-dc", os.path.join(folder, name)],
                                  capture_output=True, check=True).stdout
            for line in data.decode("utf-8").splitlines():
                yield json.loads(line)

pairs = {}
sources_of = collections.defaultdict(set)
for part in ("ae", "gpteacher", "hh"):
    for r in lines(f"{out}/pairs/{part}"):
        pairs[r["id"]] = r
        if "instruction_source" in r:
            sources_of[r["instruction"]].add(r["instruction_source"])
print(f"{len(pairs)} pair records")

SPACE = set(" \t\n\r\v\f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200b)}
INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff")
def words(t):
    n, inw = 0, False
    for ch in t:
        if ch in SPACE:
            inw = False
        elif ch not in INVISIBLE and not inw:
            inw, n = True, n + 1
    return n

def bucket(w):
    for i, top in enumerate((1, 2, 4, 8, 16, 32, 64)):
        if w <= top:
            return i
    return 7

def shingles(t):
    toks = re.findall(r"[A-Za-z0-9\u0080-\U0010ffff]+", t)
    toks = [x.lower() if x.isascii() else "".join(c.lower() if c.isascii() else c for c in x)
            for x in toks]
    if not toks:
        return frozenset()
    if len(toks) < 3:
        return frozenset([tuple(toks)])
    return frozenset(tuple(toks[i:i + 3]) for i in range(len(toks) - 2))

def jaccard(a, b):
    return len(a & b) / len(a | b) if a and b else 0.0

for name in ("responses", "pairs-set"):
    pair_form = name == "pairs-set"
    man = json.load(open(f"{out}/{name}/manifest.json"))["response_set"]
    recs = list(lines(f"{out}/{name}"))
    split_of = {}
    seen = set()
    cells = collections.Counter()
    kinds = collections.Counter()
    cap = collections.Counter()
    for r in recs:
        p = pairs.get(r["source_id"])
        if p is None:
            bad[f"{name}: record without its pair"] += 1
            continue
        I = p["instruction"]
        kind = r["kind"]
        out_kind = kind
        if pair_form:
            inp = r.get("instruction")
            if kind.startswith("I+"):
                out_kind = kind[2:]
                if inp != I:
                    bad[f"{name}: I+ input is not the instruction"] += 1
            elif kind.startswith("Ip+"):
                out_kind = kind[3:]
                if not (inp and I.startswith(inp) and len(inp) < len(I)):
                    bad[f"{name}: Ip+ input is not a proper prefix of the instruction"] += 1
            else:
                bad[f"{name}: pair kind without input"] += 1
        elif "instruction" in r:
            bad[f"{name}: response-form record carries an instruction"] += 1
        want = 1 if out_kind in ("R", "R-terse") else 0
        if r["label"] != want:
            bad[f"{name}: label of {kind}"] += 1
        text = r["text"]
        w = words(text)
        if out_kind in ("R", "R-terse") and text != p["response"]:
            bad[f"{name}: positive is not the pair's response"] += 1
        if out_kind == "R-terse" and w > 64 or out_kind == "R" and w <= 64:
            bad[f"{name}: R-terse is not exactly the positives of <= 64 words"] += 1
        if out_kind == "Ic" and not (I.rstrip().endswith(text) and len(text) < len(I)):
            bad[f"{name}: Ic is not a suffix of the instruction"] += 1
        if out_kind == "echo" and not I.startswith(text):
            bad[f"{name}: echo is not the input"] += 1
        key = (r.get("instruction"), text) if pair_form else text
        if key in seen:
            bad[f"{name}: a text twice"] += 1
        seen.add(key)
        s = r["split"]
        if I in split_of and split_of[I] != s:
            bad[f"{name}: an instruction in two splits"] += 1
        split_of[I] = s
        if s != "holdout" and "alpaca_eval:selfinstruct" in sources_of[I]:
            bad[f"{name}: a selfinstruct instruction outside holdout"] += 1
        cells[(s, bucket(w), r["label"])] += 1
        kinds[(s, kind)] += 1
        cap[(I, r["label"], bucket(w))] += 1
    for (s, b, lab), n in cells.items():
        if cells[(s, b, 1 - lab)] != n:
            bad[f"{name}: labels unbalanced in {s} bucket {b}"] += 1
    if any(n > 8 for n in cap.values()):
        bad[f"{name}: more than 8 records of a label for one instruction and bucket"] += 1
    for (s, kind), n in kinds.items():
        if man["kinds"][s].get(kind) != n:
            bad[f"{name}: manifest count of {s}/{kind}"] += 1
    if sum(kinds.values()) != man["written"] or len(recs) != man["written"]:
        bad[f"{name}: manifest total"] += 1
    # near-duplicates across splits, exactly, over every instruction used
    instrs = list(split_of)
    sh = [shingles(i) for i in instrs]
    index = collections.defaultdict(list)
    for k, s in enumerate(sh):
        for g in s:
            index[g].append(k)
    cross = 0
    near_held = set()
    for k, s in enumerate(sh):
        cand = collections.Counter()
        for g in s:
            for j in index[g]:
                if j > k:
                    cand[j] += 1
        for j, common in cand.items():
            jac = common / (len(s) + len(sh[j]) - common)
            if jac >= 0.6 - 1e-12:
                near_held.add(k)
                near_held.add(j)
                if split_of[instrs[k]] != split_of[instrs[j]]:
                    cross += 1
                    print(f"near-duplicates in {split_of[instrs[k]]} and {split_of[instrs[j]]}: "
                          f"{instrs[k][:60]!r} / {instrs[j][:60]!r} ({jac:.2f})")
    if cross:
        bad[f"{name}: near-duplicate instructions in two splits"] += cross
    held = [i for i in instrs if split_of[i] == "holdout"]
    # held out without being selfinstruct: only as a near-duplicate of one
    for k, i in enumerate(instrs):
        if split_of[i] == "holdout" and "alpaca_eval:selfinstruct" not in sources_of[i] \
                and k not in near_held:
            bad[f"{name}: an instruction held out for no reason"] += 1
    held_self = sum(1 for i in held if "alpaca_eval:selfinstruct" in sources_of[i])
    n_self = sum(1 for i in instrs if "alpaca_eval:selfinstruct" in sources_of[i])
    print(f"{name}: {len(recs)} records, {len(instrs)} instructions, {len(held)} held out "
          f"({held_self} selfinstruct of {n_self}; the rest near-duplicates of them)")
    if n_self != 252 or held_self != 252:
        bad[f"{name}: the 252 selfinstruct instructions are not all held out"] += 1
for k, v in sorted(bad.items()):
    print(f"FAIL {k}: {v}")
sys.exit(1 if bad else 0)
PYEOF
check "every_promise_of_both_sets_holds_on_the_real_data" test $? = 0
check "both_sets_verify_against_their_manifests" "$BIN" verify -q "$T/out/responses" "$T/out/pairs-set"
echo "e2e_classifier_data: $fails failed"
[ "$fails" = 0 ]
