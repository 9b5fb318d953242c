#!/usr/bin/env bash
# e2e_train_head.sh - train-head on the real MiniLM encoder and a small,
# clearly separable response set written here: the head learns it, the same
# seed gives byte-identical files, another seed does not, attach-head rebuilds
# the very checkpoint train-head wrote (also with --train-layers 1 and 2, whose
# head folders carry the trained encoder layers), --train-layers 2 is the same
# bytes at 1 and 2 threads and its checkpoint's logits under classify are the
# trainer's own, and bad response sets are refused with the file and line named.
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
# A holdout split (e.g. an instruction source kept out): never trained on nor used to
# stop, so the checkpoint is the one trained without it; measured apart, per kind.
python3 - <<'PY'
import json
lines = open("rs.jsonl").read().splitlines()
with open("rsH.jsonl", "w") as f:
    f.write("\n".join(lines) + "\n")
    for i in range(24):
        r = json.loads(lines[i]); r["id"] = "h%d" % i; r["split"] = "holdout"
        if r["label"] == 0: r["kind"] = "gibberish"
        f.write(json.dumps(r) + "\n")
PY
"$IFS_BIN" train-head --encoder "$ENC" --data rsH.jsonl --max-len 32 --threads 2 --out clfH \
    --head-out headH --seed 5 > outH.txt 2>&1
check "holdout records change nothing of training (the same checkpoint bytes)" \
  "cmp -s clf1/model.safetensors clfH/model.safetensors"
check "holdout is measured apart, per kind (report and output)" \
  "python3 -c \"import json; r=json.load(open('headH/train_report.json')); assert r['examples']['holdout']==24 and r['metrics']['holdout']['n']==24 and r['holdout_by_kind']['gibberish']['n']==12\" && grep -q '^holdout split: n 24' outH.txt"
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
# --train-layers 2: two whole layers (4 and 5, attention included) on the frozen rows of layers 0-3.
run --out clf2L --head-out head2L --seed 5 --train-layers 2 --epochs 4 --features feat2L.bin \
    --predictions pred2L.jsonl > out2L.txt 2> err2L.txt
acc2L=$(sed -n 's/^test split: n [0-9]*  accuracy \([0-9.]*\).*/\1/p' out2L.txt)
check "--train-layers 2 learns the toy set (test accuracy $acc2L >= 0.95)" "awk 'BEGIN{exit !(${acc2L:-0} >= 0.95)}'"
check "--train-layers 2 report says so" "grep -q '\"train_layers\":[[:space:]]*2' head2L/train_report.json"
check "--train-layers 2 caches the rows entering layer 4 (IFSHID04)" "[ \"\$(head -c 8 feat2L.bin)\" = IFSHID04 ]"
python3 - head2L/head.safetensors > head2L.names <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print("\n".join(sorted(k for k in json.loads(b[8:8 + n]) if k != "__metadata__")))
PY
check "the head folder holds the 16 tensors of layers 4 and 5 and the head's 4" \
  "[ \$(grep -c '^bert.encoder.layer.4\\.' head2L.names) -eq 16 ] && [ \$(grep -c '^bert.encoder.layer.5\\.' head2L.names) -eq 16 ] && [ \$(wc -l < head2L.names) -eq 36 ]"
"$IFS_BIN" attach-head --encoder "$ENC" --head head2L --out joined2L > /dev/null 2>&1
check "attach-head rebuilds the --train-layers 2 checkpoint byte for byte" \
  "cmp -s clf2L/model.safetensors joined2L/model.safetensors"
"$IFS_BIN" train-head --encoder "$ENC" --data rs.jsonl --max-len 32 --threads 1 --out clf2L1 \
    --seed 5 --train-layers 2 --epochs 4 > /dev/null 2>&1
check "--train-layers 2: same seed, 1 thread instead of 2, no cache: the same checkpoint bytes" \
  "cmp -s clf2L/model.safetensors clf2L1/model.safetensors"
# The trained checkpoint under classify --backend cpu gives the trainer's own logits
# (the same ops and GEMM blocks: equal to the 9 printed digits; allowed 1e-5).
"$IFS_BIN" classify --model clf2L --backend cpu --threads 2 --field text --format jsonl rs.jsonl > cls2L.jsonl 2>/dev/null
check "classify's logits of the --train-layers 2 checkpoint are the trainer's (every record)" \
  "python3 - pred2L.jsonl cls2L.jsonl <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 240, (len(a), len(b))
d = max(abs(x - y) for r, c in zip(a, b) for x, y in zip(r['logits'], c['logits']))
same = sum(r['logits'] == c['logits'] for r, c in zip(a, b))
print('max |d logit| %g, %d of %d identical as printed' % (d, same, len(a)), file=sys.stderr)
sys.exit(0 if d <= 1e-5 else 1)
PY"
# Every layer (the embeddings' rows cached, nothing else frozen), one epoch.
run --out clf6L --head-out head6L --seed 5 --train-layers 6 --epochs 1 > /dev/null 2>&1; rc=$?
check "--train-layers 6 (all of MiniLM's) runs (rc $rc) and writes 100 tensors" \
  "[ $rc -eq 0 ] && [ \$(python3 -c \"import json,struct,sys; b=open('head6L/head.safetensors','rb').read(); n=struct.unpack('<Q',b[:8])[0]; print(len([k for k in json.loads(b[8:8+n]) if k!='__metadata__']))\") -eq 100 ]"
run --out bad --train-layers two > /dev/null 2>&1; rc=$?
check "--train-layers two is a usage error (rc $rc)" "[ $rc -eq 2 ]"
run --out bad --train-layers 7 > /dev/null 2> bad7.txt; rc=$?
check "--train-layers 7 of a 6-layer encoder is a usage error naming the bound (rc $rc)" \
  "[ $rc -eq 2 ] && grep -q 'has 6 layers' bad7.txt"

# Pairs (--instruction-field): the same responses under two kinds of instruction, the
# label decided by the instruction alone, so only a model that reads the pair can learn it.
python3 - <<'PY'
import json
resp = ["Paris is the capital of France.", "The answer is 42.", "Water boils at 100 degrees.",
        "Use a hammer and two nails.", "It rains because clouds cool.", "Cats sleep a lot."]
ask = ["Please tell me about {}.", "Answer this question on {}.", "Explain {} to me."]
cut = ["and then the story of {} went on", "of {} , the next chapter begins with", "{} continued from page"]
topics = ["France", "numbers", "water", "tools", "weather", "cats", "rivers", "glass"]
with open("pairs.jsonl", "w") as f:
    for i in range(240):
        lab = i % 2
        t = topics[(i // 2) % len(topics)]
        ins = (ask if lab else cut)[(i // 16) % 3].format(t)
        split = "train" if i % 10 < 6 else "validation" if i % 10 < 8 else "test"
        f.write(json.dumps(dict(id=str(i), instruction=ins, text=resp[(i // 2) % len(resp)],
                                label=lab, split=split, kind="R" if lab else "Ic")) + "\n")
PY
runp() { "$IFS_BIN" train-head --encoder "$ENC" --max-len 32 --threads 2 "$@"; }
runp --data pairs.jsonl --out clfP --head-out headP --seed 5 --train-layers 1 --epochs 8 \
    --instruction-field instruction --instruction-max-tokens 16 --features featP.bin \
    --predictions predP.jsonl > outP.txt 2> errP.txt
accP=$(sed -n 's/^test split: n [0-9]*  accuracy \([0-9.]*\).*/\1/p' outP.txt)
check "pair training learns what only the instruction says (test accuracy $accP >= 0.95)" "awk 'BEGIN{exit !(${accP:-0} >= 0.95)}'"
runp --data pairs.jsonl --out clfR --seed 5 --train-layers 1 --epochs 8 --features featR.bin > outR.txt 2>&1
accR=$(sed -n 's/^test split: n [0-9]*  accuracy \([0-9.]*\).*/\1/p' outR.txt)
check "the response alone cannot (test accuracy $accR <= 0.75)" "awk 'BEGIN{exit !(${accR:-1} <= 0.75)}'"
check "config.json says pair input and the instruction cap" \
  "grep -q '\"ifs_input\":[[:space:]]*\"pair\"' clfP/config.json && grep -q '\"ifs_instruction_max_tokens\":[[:space:]]*16' clfP/config.json && grep -q '\"ifs_input\":[[:space:]]*\"pair\"' headP/config.json"
check "a response-only checkpoint says nothing of pairs" "! grep -q ifs_input clfR/config.json"
"$IFS_BIN" attach-head --encoder "$ENC" --head headP --out joinedP > /dev/null 2>&1
check "attach-head keeps the pair setting and the weights" \
  "cmp -s clfP/config.json joinedP/config.json && cmp -s clfP/model.safetensors joinedP/model.safetensors"
check "the pair rows are cached under their own key (not the response-only rows)" \
  "! cmp -s featP.bin featR.bin && [ \"\$(head -c 8 featP.bin)\" = IFSHID05 ]"
runp --data pairs.jsonl --out clfP2 --seed 5 --train-layers 1 --epochs 8 --instruction-field instruction \
    --instruction-max-tokens 16 --features featR.bin > /dev/null 2> errP2.txt
check "a response-only row cache is not taken for pairs (recomputed)" "! grep -q 'features from' errP2.txt && cmp -s clfP/model.safetensors clfP2/model.safetensors"
# token types reach the encoder: classify reads the pair with types 0/1 and gets the trainer's logits
"$IFS_BIN" classify --model clfP --backend cpu --field text --pair-field instruction --format jsonl pairs.jsonl > clsP.jsonl 2>/dev/null
check "classify --pair-field gives the pair trainer's logits (token types included)" \
  "python3 - predP.jsonl clsP.jsonl <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 240, (len(a), len(b))
d = max(abs(x - y) for r, c in zip(a, b) for x, y in zip(r['logits'], c['logits']))
print('pairs: max |d logit| %g' % d, file=sys.stderr)
sys.exit(0 if d <= 1e-5 else 1)
PY"
printf '{"instruction":"say hi","text":"hi","label":1,"split":"train"}\n{"text":"b","label":0,"split":"train"}\n' > badP.jsonl
runp --data badP.jsonl --out bad --instruction-field instruction > /dev/null 2> badP_err.txt; rc=$?
check "a pair record without its instruction is refused naming file and line (rc $rc)" \
  "[ $rc -ne 0 ] && grep -q 'badP.jsonl:2: no string \"instruction\"' badP_err.txt"
runp --data pairs.jsonl --out bad --instruction-max-tokens 8 > /dev/null 2>&1; rc=$?
check "--instruction-max-tokens without --instruction-field is a usage error (rc $rc)" "[ $rc -eq 2 ]"

printf '{"text":"a","label":1,"split":"train"}\n{"text":"b","label":3,"split":"train"}\n' > bad.jsonl
run --out bad --data bad.jsonl > /dev/null 2> bad_err.txt; rc=$?
check "label 3 refused naming file and line (rc $rc)" "[ $rc -ne 0 ] && grep -q 'bad.jsonl:2' bad_err.txt"
printf '{"text":"a","label":1,"split":"dev"}\n' > bad2.jsonl
run --out bad --data bad2.jsonl > /dev/null 2> bad2_err.txt; rc=$?
check "unknown split refused (rc $rc)" "[ $rc -ne 0 ] && grep -q 'bad2.jsonl:1' bad2_err.txt"
"$IFS_BIN" train-head --encoder "$ENC" > /dev/null 2>&1; rc=$?
check "missing --data/--out is a usage error (rc $rc)" "[ $rc -eq 2 ]"
exit $fail
