#!/usr/bin/env bash
# device_pack.sh - make what the GPU validation (scripts/device_check.sh)
# needs on a GPU machine that has none of our packages, no network and no
# ../shared, into one git-ignored folder that travels with the working tree
# (the device tool's `carry`), and prove here that it fits and links.
#
#   bash scripts/device_pack.sh [--dry-run] [--fallback-build] [--build-on-node]
#                               [--models DIR] [--shared DIR] [--python PY]
#                               [--corpus-step N] [--jobs N] [--limit-mib N]
#
# Writes build-device/carry/ (docs/gpu.md lists every file and why):
#   MANIFEST.json      commit, where and how it was packed, sha256 + size of each file
#   build.tar.xz       ifscore, the cuda_* tests, bench_cuda_forward and every
#                      CTestTestfile.cmake of a Release build for sm_90 made here
#                      (-DCMAKE_CUDA_ARCHITECTURES=90: SASS for Hopper plus PTX)
#   deps/*.deb         the runtime packages, unpacked there with dpkg -x:
#                      libopenblas0-pthread libgfortran5 libquadmath0 libzstd1
#                      libcjson1 libutf8proc2
#   deps/devroot.tar.xz headers, .pc files, .so links and pkgconf from the -dev
#                      packages (no static libraries, no docs), for the
#                      fallback build on the GPU machine
#   corpus.tar.xz      a slice of ../shared/data/alpaca_eval_outputs: every
#                      N-th file (default 9: 26 files, 20,927 responses), as
#                      plain .json
#   minilm.tar.xz      all-MiniLM-L6-v2 with its weights stored in F16; the
#                      tensors the default head replaces (layer 5, pooler) are
#                      zeros, and so are the word-embedding rows of tokens that
#                      never occur in the slice (see CARRY.md inside): what fits
#
# Checks (exit 3 when one fails): the tree that travels plus the carry stay
# under --limit-mib (default 60, the tool's 64 MiB less room for the tree
# to grow); every carried binary resolves each library it needs from the
# carried packages, the CUDA toolkit or the C/C++ runtime (ldd, with the
# system's own copies of our libraries shadowed by the carried ones).
# --dry-run then copies the tree that travels and the carry to a scratch
# root, as the device tool would, and runs `device_check.sh --dry-run`
# there: every step that needs no GPU (unpack, path rewrite, ldd, models,
# shards, token ids, ctest -L cuda, which skips without a device).
# --fallback-build also configures and builds the fallback there against
# the carried headers and libraries only (slow on 2 cores).
# --build-on-node carries no build (the GPU machine then builds, ~1 min).
#
# Needs: the build dependencies (scripts/setup.sh), the CUDA toolkit, apt-get
# (network to Debian), xz, zstd, and a python with numpy, safetensors and
# tokenizers (.venv from setup.sh) for the weights and the slice's vocabulary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

MODELS=${IFS_MODELS_DIR:-$ROOT/.cache/models}
SHARED=$ROOT/../shared
PY=${IFS_PYTHON:-$ROOT/.venv/bin/python}
STEP=9
JOBS=2
LIMIT_MIB=60
DRY=0
FALLBACK=0
NO_BUILD=0
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY=1 ;;
    --fallback-build) FALLBACK=1 ;;
    --build-on-node) NO_BUILD=1 ;;
    --models) MODELS=$2; shift ;;
    --shared) SHARED=$2; shift ;;
    --python) PY=$2; shift ;;
    --corpus-step) STEP=$2; shift ;;
    --jobs) JOBS=$2; shift ;;
    --limit-mib) LIMIT_MIB=$2; shift ;;
    -h|--help) sed -n '2,45p' "$0"; exit 0 ;;
    *) echo "device_pack.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

DEV=$ROOT/build-device
CARRY=$DEV/carry
BUILD=$DEV/build
TMP=$DEV/pack-tmp
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'device_pack.sh: %s\n' "$*" >&2; exit 3; }

git check-ignore -q "$CARRY" || die "$CARRY is not git-ignored: the device tool carries only ignored paths"
for t in apt-get dpkg-deb xz zstd cmake sha256sum ldd; do
  command -v $t >/dev/null || die "$t is needed"
done
[ -x "$PY" ] || die "no python at $PY (set IFS_PYTHON or --python)"
"$PY" -c 'import numpy, safetensors, tokenizers' 2>/dev/null ||
  die "$PY lacks numpy, safetensors or tokenizers"
[ -f "$MODELS/all-MiniLM-L6-v2/model.safetensors" ] || die "no $MODELS/all-MiniLM-L6-v2 (scripts/setup.sh)"
[ -d "$SHARED/data/alpaca_eval_outputs" ] || die "no $SHARED/data/alpaca_eval_outputs"

rm -rf "$CARRY" "$TMP"
mkdir -p "$CARRY/deps" "$TMP"
COMMIT=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- || COMMIT=$COMMIT-dirty

# --- the build -----------------------------------------------------------------
TARGETS="ifscore cuda_ops cuda_model cuda_corpus cuda_paths bench_cuda_forward"
if [ $NO_BUILD = 0 ]; then
  say "build for sm_90 in $BUILD ($TARGETS)"
  # Paths the tests receive are under build-device/node/, which the GPU
  # machine fills; device_check.sh rewrites this root to its own.
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DIFS_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DIFS_MODELS_DIR="$DEV/node/models" \
        -DIFS_SHARED_DIR="$DEV/node/shared" -DIFS_PYTHON=python3 >"$TMP/cmake.log" 2>&1 ||
    { tail -30 "$TMP/cmake.log" >&2; die "configure failed"; }
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j"$JOBS" --target $TARGETS >"$TMP/build.log" 2>&1 ||
    { tail -30 "$TMP/build.log" >&2; die "build failed"; }
  (cd "$ROOT" && find "build-device/build" -name CTestTestfile.cmake -print >"$TMP/build.list"
   for t in ifscore tests/cuda/cuda_ops tests/cuda/cuda_model tests/cuda/cuda_corpus \
            tests/cuda/cuda_paths benchmarks/cuda/bench_cuda_forward; do
     echo "build-device/build/$t"
   done >>"$TMP/build.list")
  tar -C "$ROOT" -cf - -T "$TMP/build.list" | xz -6 -T"$JOBS" >"$CARRY/build.tar.xz"
  BUILT_COMMIT=$("$BUILD/ifscore" --version | sed -n 's/.*commit \([^,]*\),.*/\1/p')
  [ "$BUILT_COMMIT" = "$COMMIT" ] || die "the build names commit $BUILT_COMMIT, the tree is $COMMIT"
fi

# --- runtime packages and the headers of the fallback build ----------------------
RUNTIME="libopenblas0-pthread libgfortran5 libquadmath0 libzstd1 libcjson1 libutf8proc2"
DEVPKGS="libzstd-dev libcjson-dev libutf8proc-dev libopenblas-pthread-dev pkgconf-bin libpkgconf3"
say "download $RUNTIME $DEVPKGS"
mkdir -p "$TMP/debs"
(cd "$TMP/debs" && apt-get download $RUNTIME $DEVPKGS >"$TMP/apt.log" 2>&1) ||
  { tail -5 "$TMP/apt.log" >&2; die "apt-get download failed"; }
for p in $RUNTIME $DEVPKGS; do
  have=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
  got=$(dpkg-deb -f "$TMP"/debs/${p}_*.deb Version)
  [ -z "$have" ] || [ "$have" = "$got" ] ||
    say "warning: $p $got downloaded, $have installed (the build linked against $have)"
done
for p in $RUNTIME; do cp "$TMP"/debs/${p}_*.deb "$CARRY/deps/"; done
mkdir -p "$TMP/devroot"
for p in $DEVPKGS; do dpkg-deb -x "$TMP"/debs/${p}_*.deb "$TMP/devroot"; done
rm -rf "$TMP/devroot/usr/share/doc" "$TMP/devroot/usr/share/man" "$TMP/devroot/usr/share/lintian"
find "$TMP/devroot" -name '*.a' -delete
tar -C "$TMP/devroot" -cf - . | xz -6 -T"$JOBS" >"$CARRY/deps/devroot.tar.xz"

# --- the corpus slice and the encoder ----------------------------------------------
say "corpus slice: every ${STEP}th file of $SHARED/data/alpaca_eval_outputs"
mkdir -p "$TMP/corpus/alpaca_eval_outputs"
ls "$SHARED/data/alpaca_eval_outputs"/*.json.zst | sort | awk -v s="$STEP" '(NR - 1) % s == 0' \
  >"$TMP/corpus.list"
while read -r f; do
  zstd -dqc "$f" >"$TMP/corpus/alpaca_eval_outputs/$(basename "$f" .zst)"
done <"$TMP/corpus.list"
tar -C "$TMP/corpus" -cf - alpaca_eval_outputs | xz -9 -T"$JOBS" >"$CARRY/corpus.tar.xz"

say "encoder: all-MiniLM-L6-v2 in F16 (this takes a minute)"
mkdir -p "$TMP/minilm/all-MiniLM-L6-v2"
for f in config.json vocab.txt tokenizer_config.json special_tokens_map.json tokenizer.json; do
  [ -f "$MODELS/all-MiniLM-L6-v2/$f" ] && cp "$MODELS/all-MiniLM-L6-v2/$f" "$TMP/minilm/all-MiniLM-L6-v2/"
done
"$PY" - "$MODELS/all-MiniLM-L6-v2" "$TMP/corpus/alpaca_eval_outputs" \
      "$TMP/minilm/all-MiniLM-L6-v2" >"$TMP/minilm.json" <<'PYEOF'
import glob, json, os, sys
import numpy as np
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

src, corpus, dst = sys.argv[1:4]
texts = []
for path in sorted(glob.glob(os.path.join(corpus, "*.json"))):
    texts += [r.get("output") or "" for r in json.load(open(path, encoding="utf-8"))]
tok = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
tok.no_truncation()
used = {0, 100, 101, 102, 103}  # [PAD] [UNK] [CLS] [SEP] [MASK]
for e in tok.encode_batch(texts):
    used.update(e.ids)
w = load_file(os.path.join(src, "model.safetensors"))
out, zeroed = {}, []
for name, v in w.items():
    if v.dtype == np.float32:
        v = v.astype(np.float16)
        # the default head (models/ifs-tone-minilm-l6) replaces these: attach-head overwrites them
        if name.startswith("encoder.layer.5.") or name.startswith("pooler."):
            v = np.zeros_like(v)
            zeroed.append(name)
        elif name.endswith("word_embeddings.weight"):
            keep = np.zeros(v.shape[0], dtype=bool)
            keep[sorted(used)] = True
            v = v.copy()
            v[~keep] = 0
    out[name] = v
save_file(out, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
vocab = int(w["embeddings.word_embeddings.weight"].shape[0])
note = f"""# all-MiniLM-L6-v2 as carried to the GPU machine

Made by scripts/device_pack.sh from {src}, to fit the device tool's 64 MiB:

- every F32 tensor is stored as F16 (round to nearest); ifscore and HF both
  load F16 safetensors and convert on load, so every backend and peer there
  sees the same weights;
- zeros in the {len(zeroed)} tensors of encoder layer 5 and the pooler, which
  the default head (models/ifs-tone-minilm-l6/head.safetensors, in the tree)
  replaces: run attach-head before using it as a classifier;
- zeros in the rows of the word-embedding table of the {vocab - len(used)} of
  {vocab} token ids that occur nowhere in the carried slice ({len(texts)} responses,
  tokenized in full, untruncated): no input of the slice can read them.

Everything measured there is on this checkpoint, against itself (cuda f32
vs cpu, f16/bf16 vs f32, ours vs HF): that is what it is for.
"""
open(os.path.join(dst, "CARRY.md"), "w").write(note)
print(json.dumps({"responses": len(texts), "token_ids_used": len(used), "vocab": vocab,
                  "zeroed_tensors": len(zeroed), "storage": "F16"}))
PYEOF
N_RESP=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["responses"])' "$TMP/minilm.json")
[ "$N_RESP" -ge 20000 ] || die "the slice has $N_RESP responses; at least 20000 are needed (lower --corpus-step)"
tar -C "$TMP/minilm" -cf - all-MiniLM-L6-v2 | xz -6 -T"$JOBS" >"$CARRY/minilm.tar.xz"

# --- manifest ------------------------------------------------------------------------
say "manifest"
"$PY" - "$CARRY" "$COMMIT" "$ROOT" "$TMP/minilm.json" "$TMP/corpus.list" "$NO_BUILD" <<'PYEOF'
import hashlib, json, os, platform, socket, subprocess, sys, time
carry, commit, root, minilm, corpus_list, no_build = sys.argv[1:7]
files = {}
for d, _, names in os.walk(carry):
    for n in sorted(names):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, carry)
        if rel == "MANIFEST.json":
            continue
        h = hashlib.sha256(open(p, "rb").read()).hexdigest()
        files[rel] = {"bytes": os.path.getsize(p), "sha256": h}
debs = {}
for rel in files:
    if rel.endswith(".deb"):
        f = subprocess.run(["dpkg-deb", "-f", os.path.join(carry, rel), "Package", "Version"],
                           capture_output=True, text=True).stdout.split("\n")
        debs[f[0].split(": ")[1]] = f[1].split(": ")[1]
m = {"commit": commit, "packed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
     "packed_on": socket.gethostname(), "pack_root": root,
     "os": open("/etc/os-release").read().split('PRETTY_NAME="')[1].split('"')[0],
     "glibc": platform.libc_ver()[1], "build": None if no_build == "1" else
     {"type": "Release", "cuda_architectures": "90", "root": root + "/build-device/build"},
     "debs": debs, "minilm": json.load(open(minilm)),
     "corpus_files": [os.path.basename(l.strip()) for l in open(corpus_list) if l.strip()],
     "files": files}
json.dump(m, open(os.path.join(carry, "MANIFEST.json"), "w"), indent=1)
PYEOF

# --- size: the tree that travels plus the carry ---------------------------------------
tree_bytes=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null |
             awk '{s += $1} END {print s + 0}')
carry_bytes=$(du -sb "$CARRY" | cut -f1)
total=$((tree_bytes + carry_bytes))
limit=$((LIMIT_MIB * 1048576))
{
  mib() { awk -v b="$1" 'BEGIN { printf "%10.2f", b / 1048576 }'; }
  printf '%-34s %10s\n' "what travels" "MiB"
  printf '%-34s %s\n' "working tree (git ls-files -co)" "$(mib "$tree_bytes")"
  (cd "$CARRY" && find . -type f | sort | while read -r f; do
     printf '%-34s %s\n' "carry/${f#./}" "$(mib "$(stat -c %s "$f")")"; done)
  printf '%-34s %s   (limit %d MiB here, 64 MiB at the tool)\n' "total" "$(mib "$total")" "$LIMIT_MIB"
} | tee "$CARRY/../pack-size.txt" >&2
[ "$total" -le "$limit" ] || die "tree + carry is $((total / 1048576)) MiB, over $LIMIT_MIB MiB"

# --- the carried build resolves its libraries from the carry ---------------------------
if [ $NO_BUILD = 0 ]; then
  say "ldd of the carried binaries against the carried packages"
  SYS=$TMP/sysroot
  mkdir -p "$SYS" "$TMP/unpacked"
  for d in "$CARRY"/deps/*.deb; do dpkg-deb -x "$d" "$SYS"; done
  tar -C "$TMP/unpacked" -xJf "$CARRY/build.tar.xz"
  LIBS=$SYS/usr/lib/x86_64-linux-gnu:$SYS/usr/lib/x86_64-linux-gnu/openblas-pthread:$SYS/lib/x86_64-linux-gnu
  bad=0
  for b in $(find "$TMP/unpacked" -type f -perm -u+x); do
    out=$(LD_LIBRARY_PATH=$LIBS ldd "$b")
    if echo "$out" | grep -q "not found"; then
      echo "$out" | grep "not found" >&2; bad=1
    fi
    for lib in libopenblas.so.0 libzstd.so.1 libcjson.so.1 libgfortran.so.5; do
      line=$(echo "$out" | grep "$lib" || true)
      [ -z "$line" ] || echo "$line" | grep -q "$SYS" ||
        { echo "$(basename "$b"): $line is not the carried copy" >&2; bad=1; }
    done
    echo "$(basename "$b"): $(echo "$out" | grep -c '=>') libraries resolved" >&2
  done
  [ $bad = 0 ] || die "a carried binary does not resolve its libraries from the carry"
fi
rm -rf "$TMP"

if [ $DRY = 1 ]; then
  say "dry run: the tree that travels + the carry in a scratch root"
  SCR=$(mktemp -d /tmp/ifs-dryrun.XXXXXX)
  mkdir -p "$SCR/repo" "$SCR/out"
  git ls-files -z -co --exclude-standard | (cd "$ROOT" && xargs -0 cp --parents -t "$SCR/repo")
  mkdir -p "$SCR/repo/build-device" && cp -r "$CARRY" "$SCR/repo/build-device/"
  args=(--dry-run)
  [ $FALLBACK = 1 ] && args+=(--force-fallback-build)
  rc=0
  OUT=$SCR/out IFS_DEVICE_PYTHON=$PY bash "$SCR/repo/scripts/device_check.sh" "${args[@]}" || rc=$?
  echo "dry run: device_check.sh exited $rc; its files are in $SCR/out" >&2
  ls -la "$SCR/out" >&2
  [ $rc = 0 ] || die "the dry run failed"
fi
say "carry ready: $CARRY ($((carry_bytes / 1048576)) MiB; tree + carry $((total / 1048576)) MiB)"
