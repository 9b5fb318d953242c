#!/usr/bin/env bash
# e2e_tokenize.sh - `ifscore tokenize` on text lines and JSONL against ids HF
# BertTokenizerFast gave for all-MiniLM-L6-v2 (transformers 5.24, written down
# below), plus its exit codes: 3 with an empty output line for a rejected line,
# 2 for usage errors, 1 for a missing model. Skips (77) without the checkpoint.
set -u
M="${IFS_MODELS_DIR:-}/all-MiniLM-L6-v2"
if [ ! -f "$M/vocab.txt" ]; then echo "SKIP: checkpoint $M absent"; exit 77; fi
B="$IFS_BIN"; T="${IFS_TEST_TMP:-/tmp}"
fail=0
check() { # name, expected, actual
  if [ "$2" == "$3" ]; then echo "ok: $1"; else echo "FAIL: $1"; echo "  want: $2"; echo "  got:  $3"; fail=1; fi
}
out=$(printf 'Hello, world!\nHéllo İstanbul 我\n' | "$B" tokenize --model "$M" -)
check "text lines give HF's ids one line each" $'101 7592 1010 2088 999 102\n101 7592 9960 1855 102' "$out"
out=$(printf 'Héllo İstanbul 我\n' | "$B" tokenize --model "$M" --tokens -)
check "tokens are printed with --tokens" "[CLS] hello istanbul 我 [SEP]" "$out"
out=$(printf 'one two three four five six seven\n' | "$B" tokenize --model "$M" --max-len 5 -)
check "max-len truncates including the specials" "101 2028 2048 2093 102" "$out"
printf '{"q":"What?","a":"Four."}\n' > "$T/pair.jsonl"
out=$("$B" tokenize --model "$M" --field q --pair-field a --type-ids "$T/pair.jsonl")
check "a JSONL pair gets separators and type ids" "101 2054 1029 102 2176 1012 102 | 0 0 0 0 1 1 1" "$out"
out=$("$B" tokenize --model "$M" --field a --instruction-field q --type-ids "$T/pair.jsonl")
check "--instruction-field puts the instruction first, as score feeds a pair" "101 2054 1029 102 2176 1012 102 | 0 0 0 0 1 1 1" "$out"
printf '{"q":"What is the capital of France?","a":"Paris is the capital."}\n' > "$T/pair2.jsonl"
out=$("$B" tokenize --model "$M" --field a --instruction-field q --instruction-max-tokens 2 "$T/pair2.jsonl")
check "--instruction-max-tokens cuts the instruction before the response" "101 2054 2003 102 3000 2003 1996 3007 1012 102" "$out"
# A pair checkpoint's own cap (config.json ifs_instruction_max_tokens) is the default.
cp "$M/vocab.txt" "$T/vocab.txt"
"$B" gen-model --out "$T/pairmodel" --seed 1 --hidden 8 --layers 1 --heads 1 --intermediate 8 \
    --vocab "$T/vocab.txt" --input pair --instruction-max-tokens 3 >/dev/null 2>&1
out=$("$B" tokenize --model "$T/pairmodel" --field a --instruction-field q "$T/pair2.jsonl")
check "the pair checkpoint's cap is used by default" "101 2054 2003 1996 102 3000 2003 1996 3007 1012 102" "$out"
"$B" tokenize --model "$M" --field a --instruction-field q --pair-field q "$T/pair.jsonl" >/dev/null 2>&1
check "--pair-field with --instruction-field is a usage error" 2 $?
"$B" tokenize --model "$M" --field a --instruction-max-tokens 2 "$T/pair.jsonl" >/dev/null 2>&1
check "--instruction-max-tokens alone is a usage error" 2 $?
printf '{"a":"Four."}\n' | "$B" tokenize --model "$M" --field a --instruction-field q - >/dev/null 2>"$T/err"; rc=$?
grep -q "line 1: field missing for q" "$T/err"; check "a record without the instruction names the field (rc $rc)" 0 $?
printf 'ok\n\xff bad\n{"x"\n' | "$B" tokenize --model "$M" - >"$T/out" 2>"$T/err"; rc=$?
out=$(od -c "$T/out" | tr -s ' '; echo "rc $rc")
want=$(printf '101 7929 102\n\n101 1063 1000 1060 1000 102\n' | od -c | tr -s ' '; echo "rc 3")
check "a line of invalid UTF-8 is rejected with an empty output line and exit 3" "$want" "$out"
grep -q "line 2: invalid UTF-8 at byte 0" "$T/err"; check "the rejection names the line and byte" 0 $?
printf '{"q":"a\\u0000b"}\n{"q":2}\n' | "$B" tokenize --model "$M" --field q - >"$T/out" 2>"$T/err"; rc=$?
check "an escaped NUL and a non-string field are rejected" "2 lines, rc 3" "$(wc -l <"$T/out") lines, rc $rc"
"$B" tokenize --model "$M" >/dev/null 2>&1; check "a missing input is a usage error" 2 $?
"$B" tokenize --model "$T/nomodel" - </dev/null >/dev/null 2>&1; check "a missing model is a failure" 1 $?
[ $fail = 0 ] && echo "e2e_tokenize: all passed"
exit $fail
