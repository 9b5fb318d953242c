#!/usr/bin/env bash
# test.sh - set up (idempotent), build, check the formatting
# (scripts/check_format.sh), and run every test: the CTest suite of
# the main build; then, in a clang build with ASan + UBSan, the unit and e2e
# tests again and the fuzz targets (libFuzzer) for a short run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check_format.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" ${IFS_CTEST_ARGS:-}
if command -v clang >/dev/null; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIFS_FUZZ=ON \
      -DIFS_CUDA=OFF >/dev/null
  cmake --build build-fuzz -j"$(nproc)"
  # That build is clang with ASan + UBSan: the unit and e2e tests run once
  # more under it (memory and undefined-behaviour errors fail them; the one
  # that reads the whole corpus, e2e_alpaca_eval, is left to the main run).
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-fuzz --output-on-failure -j"$(nproc)" \
      -L "unit|e2e" -E "e2e_alpaca_eval"
  ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
