#!/usr/bin/env bash
# train_pair_head.sh - regenerate models/ifs-tone-minilm-l6-pair/ (the shipped
# pair classifier's head: [CLS] instruction [SEP] response [SEP]) from
# ../shared/data, exactly as it was made:
#   scripts/build_classifier_data.sh (SEED=1) -> its pair-form set without the
#   holdout split (AlpacaEval's selfinstruct instructions never reach training or
#   validation) -> train-head at 96 tokens, instruction cut to 24 WordPiece ids
#   first, the top two all-MiniLM-L6-v2 layers fine-tuned (--train-layers 2) on
#   the frozen output of the four below them, 4 epochs, the best on validation
#   accuracy kept.
# Deterministic for the seeds (same machine and library builds): a rerun from the
# features cache wrote the same model.safetensors bytes (docs/classifier.md).
# Takes ~60 minutes on 2 cores: the four frozen layers' forward passes over
# 42,590 pairs once (~17 min, a 4.7 GB cache in $WORK), then ~10 min per epoch.
#
# usage: scripts/train_pair_head.sh   (env WORK=out/train-pair, SHARED=../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
W=${WORK:-out/train-pair}
B=build/ifscore
mkdir -p "$W"
[ -f "$W/data/summary.txt" ] || SEED=1 bash scripts/build_classifier_data.sh "$W/data"
[ -f "$W/pairs.jsonl" ] ||
  zstd -dc "$W"/data/pairs-set/responses-00000.jsonl.zst | grep -v '"split":"holdout"' > "$W/pairs.jsonl"
$B train-head --encoder .cache/models/all-MiniLM-L6-v2 --data "$W/pairs.jsonl" \
   --out "$W/clf" --head-out models/ifs-tone-minilm-l6-pair \
   --instruction-field instruction --instruction-max-tokens 24 --max-len 96 \
   --seed 1 --train-layers 2 --epochs 4 --patience 2 --select accuracy \
   --features "$W/rows-96.bin"
