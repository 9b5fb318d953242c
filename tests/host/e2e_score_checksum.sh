#!/usr/bin/env bash
# e2e_score_checksum.sh - issue 11 item 10: lines of a zstd frame whose
# content checksum fails are never counted as scored.
#   - a two-frame shard (zstd CLI, checksums on by default) with one byte of
#     the second frame's data flipped so that only the checksum catches it:
#     every line of that frame is rejected as zstd_checksum with its line
#     number, offset and the frame's compressed byte range, none of them is
#     in the scores, the first frame's lines are scored, read == scored +
#     rejected, and the outputs are the same at --threads 1 and 3 (2 readers);
#   - the same for a single-frame shard written by `ifscore pack` (its
#     writer sets the checksum flag): nothing of it is scored;
#   - the damaged shard on standard input (which cannot be read again): the
#     run fails naming the frame, it does not count the lines.
# Needs: bash, python3 (stdlib), the zstd CLI. Skips (77) without them.
set -euo pipefail

BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$SRC/tests/host
command -v zstd >/dev/null || { echo "SKIP: the zstd command line tool is not installed"; exit 77; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "SKIP: python3 is not installed"; exit 77; }

W=$TMP/checksum
rm -rf "$W"
mkdir -p "$W/in" "$W/out"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 3 files of 400 records: s00 + s01 become the two frames of one shard (the
# second frame over 128 KiB of text, so zstd streams it out before its
# checksum is checked), s02 is packed by ifscore into one frame.
"$PY" "$HERE/e2e_score_data.py" --many "$W/data" 3 400 11
"$BIN" gen-model --out "$W/model" --seed 4 --hidden 32 --layers 1 --heads 2 \
  --intermediate 64 --init test --vocab "$W/data/vocab.txt" > /dev/null
zstd -q -c "$W/data/s00.jsonl" > "$W/in/two.jsonl.zst"
first=$(stat -c %s "$W/in/two.jsonl.zst")
zstd -q -c "$W/data/s01.jsonl" >> "$W/in/two.jsonl.zst"
total=$(stat -c %s "$W/in/two.jsonl.zst")
"$BIN" pack "$W/data/s02.jsonl" --out "$W/packed" > /dev/null
packed=$(ls "$W"/packed/*.jsonl.zst | head -1)
cp "$packed" "$W/in/packed.jsonl.zst"
zstd -lv "$W/in/packed.jsonl.zst" 2>&1 | grep -q "Check: XXH64" ||
  fail "ifscore pack wrote no content checksum"

# Flip one byte of a frame's data (from FROM on) such that zstd still
# decodes the frame and only the content checksum fails.
flip() { # flip FILE FROM
  "$PY" - "$1" "$2" <<'EOF'
import subprocess, sys
path, lo = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
for pos in range(lo + (len(data) - lo) // 2, len(data) - 8):
    data[pos] ^= 0x20
    open(path, "wb").write(data)
    r = subprocess.run(["zstd", "-t", "-q", path], capture_output=True, text=True)
    if r.returncode != 0 and "checksum" in r.stderr.lower():
        print(pos)
        sys.exit(0)
    data[pos] ^= 0x20
open(path, "wb").write(data)
sys.exit("no byte found whose flip only the checksum catches")
EOF
}
flip "$W/in/two.jsonl.zst" "$first" > "$W/pos.two"
flip "$W/in/packed.jsonl.zst" 0 > "$W/pos.packed"
echo "flipped bytes: two.jsonl.zst at $(cat "$W/pos.two"), packed.jsonl.zst at $(cat "$W/pos.packed")"

score() { # score NAME [options...] -- inputs
  local name=$1
  shift
  "$BIN" score --model "$W/model" --out "$W/out/$name.json" --scores "$W/out/$name.scores.jsonl" \
    --rejects "$W/out/$name.rejects.jsonl" --no-timings --format none --no-progress \
    --state-dir "$W/out/$name.state" "$@"
}
rc=0
score t1 --threads 1 "$W/in" > /dev/null 2> "$W/t1.err" || rc=$?
[ "$rc" -eq 0 ] || { fail "score exit $rc"; cat "$W/t1.err"; }
rc=0
score t3 --threads 3 --readers 2 "$W/in" > /dev/null 2> "$W/t3.err" || rc=$?
[ "$rc" -eq 0 ] || { fail "score --threads 3 exit $rc"; cat "$W/t3.err"; }
# the discarded first passes leave no temporary files behind
left=$(find "$W/out/t1.state" "$W/out/t3.state" -name '*.tmp-*' | head -3)
[ -z "$left" ] || fail "temporary files left in the state: $left"
for k in json scores.jsonl rejects.jsonl; do
  cmp -s "$W/out/t1.$k" "$W/out/t3.$k" || fail "$k differs between --threads 1 and 3"
done

"$PY" - "$W/out" "$W/in" "$first" "$total" "$(stat -c %s "$W/in/packed.jsonl.zst")" <<'EOF' || fails=$((fails + 1))
import json, os, sys
out, ind, first, total, psize = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
two, packed = os.path.join(ind, "two.jsonl.zst"), os.path.join(ind, "packed.jsonl.zst")
rep = json.load(open(os.path.join(out, "t1.json")))
scores = [json.loads(l) for l in open(os.path.join(out, "t1.scores.jsonl"))]
rejects = [json.loads(l) for l in open(os.path.join(out, "t1.rejects.jsonl"))]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)

def lines_of(p):
    return sorted(s["line"] for s in scores if s["shard"] == p)
check(lines_of(two) == list(range(1, 401)), "two: the first frame's 400 lines are scored, no more")
check(lines_of(packed) == [], "packed: nothing of the damaged frame is scored")
# the second frame's lines: 401..800 (offsets continue the first frame's), plus the closing line
off1 = os.path.getsize(os.path.join(ind, "..", "data", "s00.jsonl"))
rj = [r for r in rejects if r["shard"] == two]
check([r["line"] for r in rj] == list(range(401, 802)), "two: lines 401..801 rejected (%s)" %
      [r["line"] for r in rj][:5])
check(all(r["reason"] == "zstd_checksum" for r in rj), "two: every reject is zstd_checksum")
check(rj and rj[0]["offset"] == off1, "two: the first rejected line starts at the frame's first byte")
rng = "compressed bytes %d..%d" % (first, total)
check(all(rng in r["detail"] for r in rj), "two: the details name the frame's range %s (%s)" %
      (rng, rj[0]["detail"] if rj else ""))
rp = [r for r in rejects if r["shard"] == packed]
check([r["line"] for r in rp] == list(range(1, 402)), "packed: lines 1..401 rejected")
check(all(r["reason"] == "zstd_checksum" and ("compressed bytes 0..%d" % psize) in r["detail"]
          for r in rp), "packed: zstd_checksum naming bytes 0..%d" % psize)
c = rep["counts"]
check(c["read"] == c["scored"] + c["rejected"], "read == scored + rejected")
check(c["scored"] == 400 and c["rejected"] == 802, "counts %s" % c)
per = {i["path"]: i for i in rep["inputs"]}
check(per[two]["rejects"] == {"zstd_checksum": 401}, "two's rejects %s" % per[two].get("rejects"))
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
EOF

# The damaged shard on standard input: refused, not counted.
rc=0
"$BIN" score --model "$W/model" --out "$W/out/stdin.json" --no-timings --format none --no-progress \
  --state-dir "$W/out/stdin.state" - < "$W/in/two.jsonl.zst" > /dev/null 2> "$W/stdin.err" || rc=$?
[ "$rc" -eq 1 ] || { fail "stdin: exit $rc, want 1"; cat "$W/stdin.err"; }
grep -q "failed its content checksum" "$W/stdin.err" || { fail "stdin: no words"; cat "$W/stdin.err"; }
[ ! -e "$W/out/stdin.json" ] || fail "stdin: a report was written"

[ "$fails" -eq 0 ] || { echo "e2e_score_checksum: $fails failure(s)"; exit 1; }
echo "e2e_score_checksum: ok"
