#!/usr/bin/env bash
# build_classifier_data.sh - the tone classifier's data sets from ../shared/data,
# into a folder outside the repository (docs/datasets.md, "The classifier's data"):
#
#   OUT/pairs/{ae,gpteacher,hh}  pair records: AlpacaEval's 227 generators,
#                                GPTeacher role-play (GPT-4 answers), Anthropic HH
#                                (first human turn and the reply to it)
#   OUT/responses                response-form set {id,text,label,split,kind,source,...}
#   OUT/pairs-set                pair-form set, the same plus "instruction" (I or Ip)
#   OUT/summary.txt              counts per split x kind, source x split x label, and
#                                words per label (from the manifests)
#
# Both sets: positives R (18 instruction-tuned generators, GPTeacher's, HH's) and
# R-terse (answers of at most 64 words from every instruction-tuned generator);
# negatives of eight kinds made from real text; AlpacaEval's selfinstruct
# instructions (and their near-duplicates) only in split "holdout"; near-duplicate
# instructions (shingle Jaccard >= 0.6) in one split; at most 8 records of each
# label per instruction group and length bucket; labels balanced per split and
# length bucket. Deterministic for SEED.
#
# usage: scripts/build_classifier_data.sh [OUT]   (default ../classifier-data;
#        env SEED=1, SHARED=../shared, IFS_BIN=build/ifscore)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-../classifier-data}
SEED=${SEED:-1}
SHARED=${SHARED:-../shared}
B=${IFS_BIN:-build/ifscore}
D=$SHARED/data
for f in "$D/alpaca_eval_outputs" "$D/instruction_sources/gpteacher-roleplay.json" \
         "$D/instruction_sources/hh-rlhf-harmless-base-test.jsonl.gz"; do
  [ -e "$f" ] || { echo "build_classifier_data: $f is missing" >&2; exit 1; }
done
if [ ! -x "$B" ]; then
  bash scripts/setup.sh --no-python
fi
mkdir -p "$OUT/pairs"
# The data's licences forbid redistribution: never where git would pick it up.
case $(realpath "$OUT")/ in
  "$(realpath .)"/*)
    if ! git check-ignore -q "$OUT" 2>/dev/null; then
      echo "build_classifier_data: $OUT is inside the repository and not ignored by git" >&2
      exit 2
    fi ;;
esac
t0=$(date +%s)
step() { # name command...: runs it, says how long it took
  local name=$1; shift
  local s; s=$(date +%s%N)
  "$@"
  echo "build_classifier_data: $name took $(( ($(date +%s%N) - s) / 1000000 )) ms" >&2
}

# Positives R: the 18 instruction-tuned generators the default classifier used
# (four of them "_concise" runs), GPTeacher's GPT-4 answers, HH's assistant.
POS="gpt4_1106_preview,claude-3-opus-20240229,Meta-Llama-3-70B-Instruct,Qwen1.5-72B-Chat"
POS="$POS,mistral-large-2402,llama-2-70b-chat-hf,gpt-4o-2024-05-13,gpt-3.5-turbo-0613"
POS="$POS,claude-2.1,gemini-pro,Mixtral-8x7B-Instruct-v0.1,Yi-34B-Chat,tulu-2-dpo-70b"
POS="$POS,zephyr-7b-beta,gpt4_1106_preview_concise,gpt4_0613_concise,claude-2.1_concise"
POS="$POS,Mixtral-8x7B-Instruct-v0.1_concise,gpteacher-gpt-4,hh-rlhf-assistant"
# Terse positives: short answers of every instruction-tuned generator. Left
# out: the base and weak models (phi-2, pythia-12b-mix-sft, oasst-sft-pythia-12b),
# NullModel (token soup), gpt4_gamed (answers cut to ten characters on purpose)
# and falcon-7b-instruct (answers "<noinput>").
TERSE='*,!phi-2,!NullModel,!pythia-12b-mix-sft,!oasst-sft-pythia-12b,!gpt4_gamed,!falcon-7b-instruct'
MIX='Ic=2,Ic+R=2,Ic+next=1,echo=1,next=1,template=1,repeat=1,gibberish=1'
COMMON=(--seed "$SEED" --positive-models "$POS" --terse-models "$TERSE" --terse-max-words 64
        --negative-mix "$MIX" --holdout-source 'alpaca_eval:selfinstruct'
        --near-duplicates 0.6 --length-match --max-per-group 8)

[ -f "$OUT/pairs/ae/manifest.json" ] ||
  step "import alpaca-eval" "$B" import alpaca-eval "$D/alpaca_eval_outputs" --out "$OUT/pairs/ae" -q
[ -f "$OUT/pairs/gpteacher/manifest.json" ] ||
  step "import gpteacher" "$B" import alpaca "$D/instruction_sources/gpteacher-roleplay.json" \
    --out "$OUT/pairs/gpteacher" --model gpteacher-gpt-4 --instruction-source gpteacher -q
[ -f "$OUT/pairs/hh/manifest.json" ] ||
  step "import hh" "$B" import hh "$D/instruction_sources/hh-rlhf-harmless-base-test.jsonl.gz" \
    --out "$OUT/pairs/hh" --model hh-rlhf-assistant -q
rm -rf "$OUT/responses" "$OUT/pairs-set"
step "build-responses (response form)" "$B" build-responses "$OUT/pairs/ae" "$OUT/pairs/gpteacher" \
  "$OUT/pairs/hh" --out "$OUT/responses" "${COMMON[@]}" --negatives 2
step "build-responses (pair form)" "$B" build-responses "$OUT/pairs/ae" "$OUT/pairs/gpteacher" \
  "$OUT/pairs/hh" --out "$OUT/pairs-set" --pairs "${COMMON[@]}" --negatives 3
"$B" verify -q "$OUT/pairs/ae" "$OUT/pairs/gpteacher" "$OUT/pairs/hh" "$OUT/responses" "$OUT/pairs-set"

# The counts, from the manifests (python3 reads JSON; nothing is computed here
# that the manifests do not hold).
if command -v python3 >/dev/null; then
  python3 - "$OUT" > "$OUT/summary.txt" <<'PYEOF'
import json, sys
out = sys.argv[1]
for name in ("responses", "pairs-set"):
    r = json.load(open(f"{out}/{name}/manifest.json"))["response_set"]
    splits = ["train", "validation", "test", "holdout"]
    print(f"== {name}: {r['written']} records from {r['eligible_pairs']} of {r['pairs']} pairs; "
          f"{r['instructions']} instructions in {r['groups']} groups")
    print("skipped pairs:", json.dumps(r["skipped"]))
    print("dropped candidates:", json.dumps(r["dropped"]))
    kinds = sorted({k for s in splits for k in r["kinds"][s]})
    print(f"{'kind':16}" + "".join(f"{s:>11}" for s in splits))
    for k in kinds:
        print(f"{k:16}" + "".join(f"{r['kinds'][s].get(k, 0):>11}" for s in splits))
    print(f"{'label 0 / 1':16}" + "".join(
        f"{str(r['labels'][s]['0']) + '/' + str(r['labels'][s]['1']):>11}" for s in splits))
    print(f"{'source':26}" + "".join(f"{s:>15}" for s in splits))
    for src, v in sorted(r["sources"].items()):
        print(f"{src:26}" + "".join(f"{str(v[s]['0']) + '/' + str(v[s]['1']):>15}" for s in splits))
    print("words per label (buckets " + " ".join(r["length_buckets"]) + "):")
    for s in splits:
        for lab in ("0", "1"):
            print(f"  {s:10} {lab}: " + " ".join(f"{n:>6}" for n in r["words_per_label"][s][lab]))
    print()
PYEOF
  cat "$OUT/summary.txt"
fi
echo "build_classifier_data: done in $(( $(date +%s) - t0 )) s; sets in $OUT/responses and $OUT/pairs-set" >&2
