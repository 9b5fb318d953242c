#!/usr/bin/env bash
# check_format.sh - every tracked C, C++ and CUDA source formatted as
# .clang-format says (clang-format --dry-run --Werror); lists the files that
# are not and exits 1. `scripts/check_format.sh --fix` formats them in place.
# The generated tokenizer/tok_tables.c (scripts/gen_tok_tables.py) is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-$(command -v clang-format || command -v clang-format-14 || true)}
if [ -z "$CF" ]; then
  echo "check_format: no clang-format (Debian: clang-format; scripts/setup.sh installs it)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cu' '*.cuh' '*.cpp' | grep -v '^tokenizer/tok_tables\.c$')
if [ "${1:-}" = --fix ]; then
  "$CF" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$CF" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} file(s) differ from .clang-format (scripts/check_format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted as .clang-format says ($("$CF" --version | head -1))"
