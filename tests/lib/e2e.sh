# tests/lib/e2e.sh - the shared preamble of the end-to-end scripts (sourced,
# not run). A script sets `set -u`, sources this file, then calls
#   e2e_begin NAME      needs IFS_BIN and IFS_SOURCE_DIR (CTest sets them);
#                       sets B (the binary), SRC, T (a fresh work folder,
#                       IFS_TEST_TMP or a mktemp), S (examples/shards), and
#                       cd's into T
#   e2e_need CMD WHY    exit 77 (CTest's skip) naming WHY when CMD is missing
#   check NAME CMD...   runs CMD; prints "ok   NAME" or "FAIL NAME" and counts
#   code WANT CMD...    runs CMD with stdout/stderr in out.txt/err.txt; true
#                       when it exits WANT (else says what it exited, and why)
#   e2e_tiny_model DIR  a seeded 2-layer model over a vocab of the example
#                       shards' words (for tests where the figures do not
#                       matter, only the pipeline)
#   e2e_end             prints "NAME: N failed" and returns 0 only when none
# Nothing here asserts anything of its own.

e2e_begin() {
    E2E_NAME=$1
    B=${IFS_BIN:?IFS_BIN not set}
    SRC=${IFS_SOURCE_DIR:?IFS_SOURCE_DIR not set}
    T=${IFS_TEST_TMP:-$(mktemp -d)}
    S=$SRC/examples/shards
    fails=0
    rm -rf "$T" && mkdir -p "$T" && cd "$T" || exit 1
}

e2e_need() {
    command -v "$1" >/dev/null 2>&1 || { echo "SKIP: $2"; exit 77; }
}

ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
code() {
    local want=$1; shift
    "$@" >out.txt 2>err.txt
    local rc=$?
    [ $rc -eq "$want" ] || { echo "  exit $rc, want $want: $*"; cat err.txt; return 1; }
}

e2e_tiny_model() {
    {
        printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'
        for c in a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 . , '?' '!' "'"; do
            echo "$c"; echo "##$c"
        done
        cat "$S"/*.jsonl | tr 'A-Z' 'a-z' | tr -c 'a-z\n' ' ' | tr ' ' '\n' | grep -E '^[a-z]{2,}$' |
            sort -u | head -300
    } > vocab.txt
    "$B" gen-model --out "$1" --seed 7 --hidden 32 --layers 2 --heads 2 --intermediate 64 \
        --max-position 128 --vocab vocab.txt --init test >/dev/null || { echo "gen-model failed"; exit 1; }
}

e2e_end() {
    echo "$E2E_NAME: $fails failed"
    [ "$fails" -eq 0 ]
}
