#!/usr/bin/env bash
# quickstart.sh - the README's first command: set up a fresh machine, build,
# and run the main job: score the example shards with the default tone
# classifier (all-MiniLM-L6-v2 encoder + the head ifscore trained, in
# models/ifs-tone-minilm-l6) on the CPU, and print IFS per model and the
# checkpoint curve of the example SFT run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
IFS_BIN=build/ifscore
ENC=.cache/models/all-MiniLM-L6-v2
CLF=.cache/models/ifs-tone-minilm-l6
if [ ! -f $CLF/model.safetensors ] || [ models/ifs-tone-minilm-l6/head.safetensors -nt $CLF/model.safetensors ]; then
  $IFS_BIN attach-head --encoder $ENC --head models/ifs-tone-minilm-l6 --out $CLF
fi
mkdir -p out/quickstart
echo
echo "== IFS per model (examples/shards: illustrative data, see its README) =="
$IFS_BIN score --model $CLF --backend auto --group-by model \
    --out out/quickstart/report.json --scores out/quickstart/scores.jsonl.zst \
    --rejects out/quickstart/rejects.jsonl examples/shards
echo
echo "== example-sft-7b over training steps (IFS curve and plateau) =="
$IFS_BIN score --model $CLF --backend auto --group-by model,step \
    --out out/quickstart/sft-report.json examples/shards/example-sft-7b.jsonl.zst
echo
echo "reports: out/quickstart/report.json, out/quickstart/sft-report.json"
