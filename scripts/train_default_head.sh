#!/usr/bin/env bash
# train_default_head.sh - regenerate models/ifs-tone-minilm-l6/ (the default
# classifier's head) from the AlpacaEval outputs in ../shared/data, exactly as
# it was made: import -> response set (R from 18 instruction-tuned
# generators, Ic / Ic+R from cut instructions, split by instruction) ->
# train-head at 64 tokens with the last all-MiniLM-L6-v2 layer fine-tuned
# (--train-layers 1) on the frozen output of the five below it.
# Deterministic for the seeds below (same machine and library builds).
# (The issue-18 sets, with terse positives, base-model-like negatives and
# AlpacaEval's selfinstruct held out, are scripts/build_classifier_data.sh's;
# this script keeps reproducing the shipped head's data byte for byte.)
# Takes ~45 minutes on 2 cores: the five frozen layers' forward passes over
# 28,976 records once (~18 min), then ~55 s per training epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
W=${WORK:-out/train-default}
mkdir -p "$W"
B=build/ifscore
# Positives (R) from 18 instruction-tuned generators, four of them the
# "_concise" runs, so short answers are answers too.
POS="gpt4_1106_preview,claude-3-opus-20240229,Meta-Llama-3-70B-Instruct,Qwen1.5-72B-Chat"
POS="$POS,mistral-large-2402,llama-2-70b-chat-hf,gpt-4o-2024-05-13,gpt-3.5-turbo-0613"
POS="$POS,claude-2.1,gemini-pro,Mixtral-8x7B-Instruct-v0.1,Yi-34B-Chat,tulu-2-dpo-70b"
POS="$POS,zephyr-7b-beta,gpt4_1106_preview_concise,gpt4_0613_concise,claude-2.1_concise"
POS="$POS,Mixtral-8x7B-Instruct-v0.1_concise"
[ -f "$W/ae/manifest.json" ] || $B import alpaca-eval ../shared/data/alpaca_eval_outputs --out "$W/ae"
[ -f "$W/rs/manifest.json" ] || $B build-responses "$W"/ae/*.jsonl.zst --out "$W/rs" --seed 1 --positive-models "$POS"
$B train-head --encoder .cache/models/all-MiniLM-L6-v2 --data "$W"/rs/responses-00000.jsonl.zst \
   --out "$W/clf" --head-out models/ifs-tone-minilm-l6 --max-len 64 --seed 1 \
   --train-layers 1 --epochs 16 --patience 4 --select accuracy --features "$W/rows-64.bin"
