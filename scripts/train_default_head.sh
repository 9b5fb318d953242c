#!/usr/bin/env bash
# train_default_head.sh - regenerate models/ifs-tone-minilm-l6/ (the default
# classifier's head) from the AlpacaEval outputs in ../shared/data, exactly as
# it was made: import -> response set (R from six instruction-tuned
# generators, Ic / Ic+R from cut instructions, split by instruction) ->
# train-head at 64 tokens with the last all-MiniLM-L6-v2 layer fine-tuned
# (--train-layers 1) on the frozen output of the five below it.
# Deterministic for the seeds below (same machine and library builds).
# Takes ~20 CPU-minutes: the five frozen layers' forward passes once, then
# the training epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
W=${WORK:-out/train-default}
mkdir -p "$W"
B=build/ifscore
POS="gpt4_1106_preview,claude-3-opus-20240229,Meta-Llama-3-70B-Instruct,Qwen1.5-72B-Chat,mistral-large-2402,llama-2-70b-chat-hf"
[ -f "$W/ae/manifest.json" ] || $B import alpaca-eval ../shared/data/alpaca_eval_outputs --out "$W/ae"
[ -f "$W/rs/manifest.json" ] || $B build-responses "$W"/ae/*.jsonl.zst --out "$W/rs" --seed 1 --positive-models "$POS"
$B train-head --encoder .cache/models/all-MiniLM-L6-v2 --data "$W"/rs/responses-00000.jsonl.zst \
   --out "$W/clf" --head-out models/ifs-tone-minilm-l6 --max-len 64 --seed 1 \
   --train-layers 1 --features "$W/rows-64.bin"
