#!/usr/bin/env bash
# test.sh - set up (idempotent), build, and run every test: the CTest suite of
# the main build, then the fuzz targets (clang + libFuzzer) for a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" ${IFS_CTEST_ARGS:-}
if command -v clang >/dev/null; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIFS_FUZZ=ON \
      -DIFS_CUDA=OFF >/dev/null
  cmake --build build-fuzz -j"$(nproc)"
  ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
