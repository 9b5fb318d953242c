#!/usr/bin/env bash
# e2e_train_head.sh - train-head on the real MiniLM encoder and a small,
# clearly separable response set written here: the head learns it, the same
# seed gives byte-identical files, another seed does not, attach-head rebuilds
# the very checkpoint train-head wrote (also with --train-layers 1, whose head
# folder carries the last encoder layer), and bad response sets are refused
# with the file and line named.
set -u
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
ENC="$IFS_MODELS_DIR/all-MiniLM-L6-v2"
if [ ! -f "$ENC/model.safetensors" ] || [ ! -f "$ENC/vocab.txt" ]; then
  echo "SKIP: $ENC not found (scripts/setup.sh unpacks it)"; exit 77
fi
T="$IFS_TEST_TMP"; rm -rf "$T"/*; cd "$T"
python3 - <<'PY'
import json
ans = ["Sure, here is how {} works: it starts with a simple idea.",
       "Certainly! The short answer about {} is yes, with a few caveats.",
       "Good question. To understand {}, consider the following steps."]
cont = ["{} and the rest of the question that was left unfinished",
        "of {} in the next paragraph, then answer questions 3 to 5",
        "{} or something else? Posted by a user in the forum thread"]
topics = ["rain", "cats", "engines", "bread", "music", "stars", "rivers", "glass"]
with open("rs.jsonl", "w") as f:
    for i in range(240):
        lab = i % 2
        t = topics[(i // 2) % len(topics)]
        text = (ans if lab else cont)[(i // 16) % 3].format(t)
        split = "train" if i % 10 < 6 else "validation" if i % 10 < 8 else "test"
        kind = "R" if lab else ("Ic" if i % 4 == 0 else "Ic+R")
        f.write(json.dumps(dict(id=str(i), text=text, label=lab, split=split, kind=kind)) + "\n")
PY
run() { "$IFS_BIN" train-head --encoder "$ENC" --data rs.jsonl --max-len 32 --threads 2 "$@"; }
run --out clf1 --head-out head1 --seed 5 > out1.txt 2> err1.txt
check "train-head succeeds" "[ -f clf1/model.safetensors ] && [ -f head1/head.safetensors ]"
acc=$(sed -n 's/^test split: n [0-9]*  accuracy \([0-9.]*\).*/\1/p' out1.txt)
check "head separates the toy set (test accuracy $acc >= 0.95)" "awk 'BEGIN{exit !($acc >= 0.95)}'"
check "report has per-negative-kind metrics" "grep -q '\"Ic+R\"' head1/train_report.json && grep -q accuracy_on_kind head1/train_report.json"
check "config names the labels" "grep -q 'answer-like' clf1/config.json && grep -q 'continuation-like' clf1/config.json"
check "tokenizer config keeps the trained length" "grep -q '\"model_max_length\":[[:space:]]*32' clf1/tokenizer_config.json"
run --out clf2 --head-out head2 --seed 5 --features feat.bin > /dev/null 2>&1
check "same seed, byte-identical head" "cmp -s head1/head.safetensors head2/head.safetensors"
run --out clf4 --seed 5 --features feat.bin > /dev/null 2> err4.txt
check "feature cache is reused and gives the same head" \
  "grep -q 'features from feat.bin' err4.txt && cmp -s clf1/model.safetensors clf4/model.safetensors"
check "same seed, byte-identical checkpoint" "cmp -s clf1/model.safetensors clf2/model.safetensors"
run --out clf3 --seed 6 > /dev/null 2>&1
check "another seed, another head" "! cmp -s clf1/model.safetensors clf3/model.safetensors"
"$IFS_BIN" attach-head --encoder "$ENC" --head head1 --out joined > /dev/null 2>&1
check "attach-head rebuilds the trained checkpoint byte for byte" \
  "cmp -s clf1/model.safetensors joined/model.safetensors && cmp -s clf1/config.json joined/config.json && cmp -s clf1/tokenizer_config.json joined/tokenizer_config.json"
# --train-layers 1: the last encoder layer is trained too and travels in the head folder.
run --out clfL --head-out headL --seed 5 --train-layers 1 --epochs 6 --features featL.bin > outL.txt 2> errL.txt
accL=$(sed -n 's/^test split: n [0-9]*  accuracy \([0-9.]*\).*/\1/p' outL.txt)
check "--train-layers 1 learns the toy set (test accuracy $accL >= 0.95)" "awk 'BEGIN{exit !(${accL:-0} >= 0.95)}'"
check "--train-layers 1 report says so" "grep -q '\"train_layers\":[[:space:]]*1' headL/train_report.json"
python3 - headL/head.safetensors > headL.names <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print("\n".join(sorted(k for k in json.loads(b[8:8 + n]) if k != "__metadata__")))
PY
check "the head folder holds the 16 tensors of layer 5 and the head's 4" \
  "[ \$(grep -c '^bert.encoder.layer.5\\.' headL.names) -eq 16 ] && [ \$(wc -l < headL.names) -eq 20 ]"
check "the trained layer differs from the encoder's" "! cmp -s clfL/model.safetensors clf1/model.safetensors"
"$IFS_BIN" attach-head --encoder "$ENC" --head headL --out joinedL > /dev/null 2>&1
check "attach-head rebuilds the --train-layers 1 checkpoint byte for byte" \
  "cmp -s clfL/model.safetensors joinedL/model.safetensors"
run --out clfL2 --seed 5 --train-layers 1 --epochs 6 --features featL.bin > /dev/null 2> errL2.txt
check "--train-layers 1: the row cache is reused, same seed gives the same checkpoint" \
  "grep -q 'features from featL.bin' errL2.txt && cmp -s clfL/model.safetensors clfL2/model.safetensors"
run --out bad --train-layers 2 > /dev/null 2>&1; rc=$?
check "--train-layers 2 is a usage error (rc $rc)" "[ $rc -eq 2 ]"

printf '{"text":"a","label":1,"split":"train"}\n{"text":"b","label":3,"split":"train"}\n' > bad.jsonl
run --out bad --data bad.jsonl > /dev/null 2> bad_err.txt; rc=$?
check "label 3 refused naming file and line (rc $rc)" "[ $rc -ne 0 ] && grep -q 'bad.jsonl:2' bad_err.txt"
printf '{"text":"a","label":1,"split":"dev"}\n' > bad2.jsonl
run --out bad --data bad2.jsonl > /dev/null 2> bad2_err.txt; rc=$?
check "unknown split refused (rc $rc)" "[ $rc -ne 0 ] && grep -q 'bad2.jsonl:1' bad2_err.txt"
"$IFS_BIN" train-head --encoder "$ENC" > /dev/null 2>&1; rc=$?
check "missing --data/--out is a usage error (rc $rc)" "[ $rc -eq 2 ]"
exit $fail
