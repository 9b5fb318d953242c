#!/usr/bin/env bash
# device_check.sh - the GPU validation of the cuda backend, as one command on
# a GPU machine that has the working tree and build-device/carry/ (made by
# scripts/device_pack.sh) and nothing else of ours: no network, no
# ../shared, none of our -dev packages. docs/gpu.md says how to call it
# through the device tool.
#
#   bash scripts/device_check.sh [--budget SECONDS] [--only LIST] [--skip LIST]
#                                [--copies K] [--dry-run] [--force-fallback-build]
#
# Steps, each logged to its own file, each time-boxed, none stopping the
# others (a failed step is reported and the next runs):
#   env        GPU, driver, OS, glibc, tools (nvcc, cmake, ncu, compute-sanitizer, nsys)
#   unpack     check the carry's sha256, dpkg -x the runtime packages into a
#              scratch sysroot, unpack the build, the corpus slice and the
#              encoder, rewrite the build's paths to this root, find the CUDA
#              libraries, ldd every carried binary
#   smoke      a tiny random model through `ifscore classify --backend cuda`:
#              proves the carried sm_90 build runs here
#   fallback   only when ldd or smoke failed (or --force-fallback-build):
#              cmake + build here against the carried headers and libraries
#   prepare    the default classifier (attach-head of the encoder and
#              models/ifs-tone-minilm-l6), shards (import alpaca-eval), a random
#              BERT-base checkpoint (gen-model), token-id files (bench_hf.py ids)
#   correct    ctest -L cuda (kernel table, whole model, corpus parity with the
#              99.9% label check on the slice, kernel paths), and at the same
#              time compute-sanitizer memcheck, racecheck, synccheck and
#              initcheck on tests/cuda/cuda_paths (small models, two handles)
#   fwd_minilm, fwd_bert   forward only, MiniLM-L6 and BERT-base shapes: ours
#              (f16 two handles with per-stage times, f16 one handle, bf16),
#              HF BertForSequenceClassification eager (f16, SDPA,
#              length-sorted padded batches) and torch.compile of it, same ids
#   e2e_minilm, e2e_bert   `ifscore score --backend cuda` from compressed
#              shards (the default classifier; the random BERT-base) against
#              bench_hf.py e2e on the same shards, and ours forward-only on
#              the same texts at the same truncation
#   profile    ncu (clock control off) and nsys on a short forward, if there
#   report     results under $OUT (below) and the summary table, printed last
#
# $OUT receives (at most 8 files, as the device tool returns):
#   summary.txt                                  the table printed last
#   device_check.json                            every step, every figure, goals
#   cuda_forward-<gpu>-<commit>-minilm.jsonl     \
#   cuda_forward-<gpu>-<commit>-bert-base.jsonl   | one results file per benchmark,
#   cuda_e2e-<gpu>-<commit>-minilm.jsonl          | ready for benchmarks/results/
#   cuda_e2e-<gpu>-<commit>-bert-base.jsonl      /
#   logs.tar.gz                                  every step's full log
#
# --budget (default 470 s) bounds the whole run: a step whose minimum time no
# longer fits is skipped and says so. --dry-run (device_pack.sh --dry-run
# uses it on a machine without a GPU) runs only the steps that need no GPU.
# Exit status: 0 when every step that ran passed, 1 otherwise.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV=$ROOT/build-device
CARRY=$DEV/carry
NODE=$DEV/node
WORK=${IFS_DEVICE_WORK:-/tmp/ifs-device}
OUTD=${OUT:-$DEV/out}
PY=${IFS_DEVICE_PYTHON:-python3}
# the HF peers' torch device: cuda; cpu only to rehearse these functions elsewhere
PEER_DEVICE=${IFS_PEER_DEVICE:-cuda}
BUDGET=470
ONLY=""
SKIP=""
COPIES=4
DRY=0
FORCE_FALLBACK=0
while [ $# -gt 0 ]; do
  case $1 in
    --budget) BUDGET=$2; shift ;;
    --only) ONLY=",$2,"; shift ;;
    --skip) SKIP=",$2,"; shift ;;
    --copies) COPIES=$2; shift ;;
    --dry-run) DRY=1 ;;
    --force-fallback-build) FORCE_FALLBACK=1 ;;
    -h|--help) sed -n '2,52p' "$0"; exit 0 ;;
    *) echo "device_check.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# A dry run rehearses on the calling machine (2 shared cores, no GPU): the
# limits that fit a 16-core GPU machine are stretched there, never on it.
STRETCH=1
if [ "$DRY" = 1 ]; then STRETCH=3; BUDGET=$((BUDGET * STRETCH)); fi
T_START=$(date +%s)
DEADLINE=$((T_START + BUDGET))
rm -rf "$WORK"
mkdir -p "$WORK/logs" "$WORK/state" "$WORK/raw" "$WORK/notes" "$OUTD"
: >"$WORK/steps.tsv"
: >"$WORK/sub.tsv"
# torch.compile's caches, shared by the warm-up in `correct` and the timed runs
export TORCHINDUCTOR_CACHE_DIR=$WORK/inductor TRITON_CACHE_DIR=$WORK/triton TORCHINDUCTOR_FX_GRAPH_CACHE=1
export ROOT DEV CARRY NODE WORK OUTD PY PEER_DEVICE COPIES DRY FORCE_FALLBACK
TARGETS="ifscore cuda_ops cuda_model cuda_corpus cuda_paths bench_cuda_forward"
export TARGETS

# --- helpers (exported: every step runs in its own bash under timeout) -----------
note() { printf '%s\n' "$*" >"$WORK/notes/$STEP_NAME"; }
# sub NAME STATUS SECONDS NOTE: a result inside a step (a tool, a test)
sub() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$WORK/sub.tsv"; }
state() { cat "$WORK/state/$1" 2>/dev/null; }
# Our binaries' environment: the carried libraries, then CUDA's.
ifsenv() {
  export LD_LIBRARY_PATH="$(state libdirs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
bin() { printf '%s' "$(state build)"; }
# run_timed SECONDS LOGNAME CMD...: a sub-command with its own limit; rc out
# untar_xz ARCHIVE DIR: tar -xJ needs the xz binary, which an image may lack;
# python's tarfile reads .tar.xz with the standard library's lzma
untar_xz() {
  if command -v xz >/dev/null; then tar -C "$2" -xJf "$1"
  else "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}
run_timed() {
  local t=$1 log=$2; shift 2
  echo "+ $*" >>"$WORK/logs/$log.log"
  timeout -k 10 "$t" "$@" >>"$WORK/logs/$log.log" 2>&1
}
export -f note sub state ifsenv bin untar_xz run_timed

# run_step NAME TIMEOUT NEED GPU: runs function step_NAME
run_step() {
  local name=$1 tmo=$(($2 * STRETCH)) need=$3 gpu=$4
  local now left status t0 t1 rc
  now=$(date +%s)
  left=$((DEADLINE - now))
  if [ -n "$ONLY" ] && [[ $ONLY != *",$name,"* ]] && [ "$name" != report ]; then
    printf '%s\tskip\t0\tnot in --only\n' "$name" >>"$WORK/steps.tsv"; return
  fi
  if [[ $SKIP == *",$name,"* ]]; then
    printf '%s\tskip\t0\t--skip\n' "$name" >>"$WORK/steps.tsv"; return
  fi
  if [ "$gpu" = 1 ] && [ "$DRY" = 1 ]; then
    printf '%s\tskip\t0\tdry run (needs a GPU)\n' "$name" >>"$WORK/steps.tsv"; return
  fi
  if [ "$left" -lt "$need" ]; then
    printf '%s\tskip\t0\tbudget: %ss left, needs %ss\n' "$name" "$left" "$need" >>"$WORK/steps.tsv"
    echo "[$(date +%T)] $name: skipped (budget)" >&2
    return
  fi
  [ "$tmo" -gt "$left" ] && tmo=$left
  echo "[$(date +%T)] $name (up to ${tmo}s)" >&2
  t0=$(date +%s.%N)
  STEP_NAME=$name timeout -k 10 "$tmo" bash -c "set -o pipefail; step_$name" \
    >>"$WORK/logs/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  case $rc in
    0) status=ok ;;
    124|137) status=TIMEOUT ;;
    *) status="FAIL($rc)" ;;
  esac
  printf '%s\t%s\t%.0f\t%s\n' "$name" "$status" "$(echo "$t1 $t0" | awk '{print $1 - $2}')" \
    "$(cat "$WORK/notes/$name" 2>/dev/null | head -1)" >>"$WORK/steps.tsv"
  echo "[$(date +%T)] $name: $status" >&2
}

# --- steps ------------------------------------------------------------------------
step_env() {
  uname -a; cat /etc/os-release 2>/dev/null | head -3; ldd --version | head -1
  nvidia-smi || true
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit \
             --format=csv || true
  for t in nvcc cmake ncu compute-sanitizer nsys cuobjdump; do
    printf '%s: %s\n' "$t" "$(command -v $t || echo 'not on PATH')"
  done
  nvcc --version 2>/dev/null | tail -2
  cmake --version 2>/dev/null | head -1
  "$PY" -c 'import sys, torch, transformers, tokenizers; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)' || true
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  [ -n "$gpu" ] || gpu=nogpu
  printf '%s' "$gpu" | tr -c 'A-Za-z0-9._-' '-' | sed 's/-*$//' >"$WORK/state/gpu"
  note "gpu: $gpu; glibc $(ldd --version | head -1 | awk '{print $NF}')"
}

step_unpack() {
  set -e
  [ -f "$CARRY/MANIFEST.json" ] || { echo "no $CARRY/MANIFEST.json: run scripts/device_pack.sh and carry build-device/carry"; exit 1; }
  # every carried file is what was packed
  "$PY" - "$CARRY" <<'PYEOF'
import hashlib, json, os, sys
c = sys.argv[1]
m = json.load(open(os.path.join(c, "MANIFEST.json")))
bad = [f for f, v in m["files"].items()
       if hashlib.sha256(open(os.path.join(c, f), "rb").read()).hexdigest() != v["sha256"]]
if bad:
    sys.exit("carried files differ from the manifest: %s" % bad)
open(os.environ["WORK"] + "/state/commit", "w").write(m["commit"])
open(os.environ["WORK"] + "/state/pack_root", "w").write(m["pack_root"])
print("manifest ok: commit", m["commit"], "packed", m["packed_at"], "on", m["packed_on"], m["os"])
PYEOF
  SYS=$WORK/sysroot
  mkdir -p "$SYS"
  for d in "$CARRY"/deps/*.deb; do dpkg-deb -x "$d" "$SYS"; done
  untar_xz "$CARRY/deps/devroot.tar.xz" "$SYS"
  libdirs=$SYS/usr/lib/x86_64-linux-gnu:$SYS/usr/lib/x86_64-linux-gnu/openblas-pthread:$SYS/lib/x86_64-linux-gnu
  # CUDA runtime and cuBLAS(Lt) 13: the toolkit's, else the ones PyTorch's wheels carry
  cudasrc=""
  for lib in libcudart.so.13 libcublasLt.so.13 libcublas.so.13; do
    if ldconfig -p | grep -q "$lib"; then echo "$lib: ldconfig"; cudasrc="$cudasrc $lib:ldconfig"; continue; fi
    found=""
    for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 /usr/lib/x86_64-linux-gnu; do
      [ -e "$dir/$lib" ] && { found=$dir; break; }
    done
    if [ -z "$found" ]; then
      site=$("$PY" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null)
      f=$(find $site /opt /usr/local -maxdepth 7 -name "$lib*" 2>/dev/null | head -1)
      [ -n "$f" ] && found=$(dirname "$f")
    fi
    echo "$lib: ${found:-NOT FOUND}"
    cudasrc="$cudasrc $lib:${found:-NOT-FOUND}"
    [ -n "$found" ] && [[ ":$libdirs:" != *":$found:"* ]] && libdirs=$libdirs:$found
  done
  printf '%s' "$libdirs" >"$WORK/state/libdirs"
  printf '%s' "$SYS/usr/lib/x86_64-linux-gnu/libzstd.so.1" >"$WORK/state/libzstd"
  # the node's folders the build was configured with (under build-device/node)
  mkdir -p "$NODE/models" "$NODE/shared/data"
  untar_xz "$CARRY/corpus.tar.xz" "$NODE/shared/data"
  untar_xz "$CARRY/minilm.tar.xz" "$NODE/models"
  n_json=$(ls "$NODE/shared/data/alpaca_eval_outputs"/*.json | wc -l)
  if [ -f "$CARRY/build.tar.xz" ]; then
    rm -rf "$DEV/build"
    untar_xz "$CARRY/build.tar.xz" "$ROOT"
    old=$(state pack_root)
    if [ "$old" != "$ROOT" ]; then
      find "$DEV/build" -name CTestTestfile.cmake -exec sed -i "s|$old|$ROOT|g" {} +
    fi
    grep -rho "IFS_TEST_TMP=[^;\"]*" "$DEV/build" --include=CTestTestfile.cmake | cut -d= -f2 |
      xargs -r mkdir -p
    printf '%s' "$DEV/build" >"$WORK/state/build"
    ifsenv
    bad=0
    for b in $(find "$DEV/build" -type f -perm -u+x); do
      echo "--- ldd $b"; ldd "$b"
      ldd "$b" | grep -q "not found" && bad=1
    done
    [ $bad = 0 ] || { echo "a carried binary misses a library"; printf 1 >"$WORK/state/need_fallback"; }
    "$(bin)/ifscore" --version
  else
    echo "no build.tar.xz: the fallback builds here"
    printf 1 >"$WORK/state/need_fallback"
  fi
  note "commit $(state commit), $n_json corpus files;$cudasrc"
}

step_smoke() {
  set -e
  ifsenv
  B=$(bin)
  [ -x "$B/ifscore" ] || { printf 1 >"$WORK/state/need_fallback"; exit 1; }
  "$B/ifscore" gen-model --out "$WORK/tiny" --seed 1 --hidden 64 --layers 1 --heads 2 \
    --intermediate 128 --vocab "$NODE/models/all-MiniLM-L6-v2/vocab.txt"
  if ! printf 'hello world\nthe rest of the question?\n' |
       "$B/ifscore" classify --model "$WORK/tiny" --backend cuda; then
    printf 1 >"$WORK/state/need_fallback"
    exit 1
  fi
  note "the carried build classifies on the GPU"
}

step_fallback() {
  set -e
  if [ "$(state need_fallback)" != 1 ] && [ "$FORCE_FALLBACK" != 1 ]; then
    note "not needed"; exit 0
  fi
  SYS=$WORK/sysroot
  export PKG_CONFIG=$SYS/usr/bin/pkgconf
  export PKG_CONFIG_LIBDIR=$SYS/usr/lib/x86_64-linux-gnu/pkgconfig:$SYS/usr/lib/x86_64-linux-gnu/openblas-pthread/pkgconfig:$SYS/usr/share/pkgconfig
  export PKG_CONFIG_SYSROOT_DIR=$SYS
  export PKG_CONFIG_SYSTEM_INCLUDE_PATH=/nonexistent PKG_CONFIG_SYSTEM_LIBRARY_PATH=/nonexistent
  ifsenv
  "$PKG_CONFIG" --cflags --libs libzstd libcjson libutf8proc openblas
  NB=$DEV/build-node
  rm -rf "$NB"
  cuda_args=()
  command -v nvcc >/dev/null && cuda_args+=(-DCMAKE_CUDA_COMPILER="$(command -v nvcc)")
  cmake -S "$ROOT" -B "$NB" -DCMAKE_BUILD_TYPE=Release -DIFS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DIFS_MODELS_DIR="$NODE/models" -DIFS_SHARED_DIR="$NODE/shared" -DIFS_PYTHON=python3 \
        "${cuda_args[@]}"
  # shellcheck disable=SC2086
  cmake --build "$NB" -j"$(nproc)" --target $TARGETS
  grep -rho "IFS_TEST_TMP=[^;\"]*" "$NB" --include=CTestTestfile.cmake | cut -d= -f2 | xargs -r mkdir -p
  for b in "$NB/ifscore" "$NB/tests/cuda/cuda_ops"; do ldd "$b"; done
  printf '%s' "$NB" >"$WORK/state/build"
  note "built here: $("$NB/ifscore" --version)"
}

step_prepare() {
  set -e
  ifsenv
  B=$(bin)
  M=$NODE/models
  "$B/ifscore" attach-head --encoder "$M/all-MiniLM-L6-v2" --head "$ROOT/models/ifs-tone-minilm-l6" \
    --out "$M/ifs-tone-minilm-l6-full"
  rm -rf "$NODE/shards" "$NODE/shards-x$COPIES"
  "$B/ifscore" import alpaca-eval "$NODE/shared/data/alpaca_eval_outputs" --out "$NODE/shards"
  # K copies for the MiniLM end-to-end run, long enough that start-up (CUDA
  # context, weights) does not dominate. score refuses a shard given twice
  # (same file, or same bytes), so each copy is its own import, its records
  # relabelled slice-copy-k.
  mkdir -p "$NODE/shards-x$COPIES" "$WORK/copies"
  for k in $(seq 1 "$COPIES"); do
    "$B/ifscore" import alpaca-eval "$NODE/shared/data/alpaca_eval_outputs" --model "slice-copy-$k" \
      --out "$WORK/copies/c$k"
    for f in "$WORK/copies/c$k"/*.jsonl.zst; do mv "$f" "$NODE/shards-x$COPIES/c$k-$(basename "$f")"; done
  done
  "$B/ifscore" gen-model --shape base --seed 17 --dtype f16 --vocab "$M/all-MiniLM-L6-v2/vocab.txt" \
    --out "$M/bert-base-random"
  H=$ROOT/benchmarks/cuda/bench_hf.py
  D=$NODE/shared/data/alpaca_eval_outputs
  "$PY" "$H" ids --data "$D" --tokenizer "$M/all-MiniLM-L6-v2" --n 100000000 --max-len 512 \
    --out "$WORK/ids512.bin" --label slice-512
  # the other two are exact cuts of these ids (a tokenizer's truncation keeps
  # [CLS], the first tokens and [SEP]); tokenizing the slice once is enough
  "$PY" "$H" cut --ids "$WORK/ids512.bin" --n 5000 --out "$WORK/ids512-5k.bin" --label slice-5000-512
  "$PY" "$H" cut --ids "$WORK/ids512.bin" --max-len 64 --out "$WORK/ids64.bin" --label slice-64
  "$PY" "$H" cut --ids "$WORK/ids512.bin" --n 300 --out "$WORK/ids-warm.bin" --label compile-warm-up
  note "classifier, $(ls "$NODE/shards"/*.jsonl.zst | wc -l) shards (x$COPIES), bert-base, 3 id files"
}

step_correct() {
  ifsenv
  B=$(bin)
  M=$NODE/models
  export IFS_CORPUS_DIR=$NODE/shared/data/alpaca_eval_outputs
  export IFS_CORPUS_MODEL=$M/ifs-tone-minilm-l6-full IFS_CORPUS_MIN=20000
  export IFS_MINILM_DIR=$M/ifs-tone-minilm-l6-full
  san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null ||
        find /opt/nvidia /usr/local -maxdepth 6 -name compute-sanitizer -type f 2>/dev/null | head -1)
  pids=()
  # torch.compile of both peers, untimed, while correctness runs: its compiled
  # graphs and Triton kernels land in the caches the timed runs then hit
  if [ "$DRY" != 1 ]; then
    (
      for shape in minilm bert-base; do
        timeout -k 10 100 "$PY" "$ROOT/benchmarks/cuda/bench_hf.py" forward --ids "$WORK/ids-warm.bin" \
          --shape "$shape" --dtype f16 --repeat 1 --compile --device "$PEER_DEVICE" --label warm-up
      done
    ) >"$WORK/logs/compile-warm-up.log" 2>&1 &
    pids+=($!)
  fi
  if [ -n "$san" ] && [ "$DRY" != 1 ]; then
    for tool in memcheck racecheck synccheck initcheck; do
      (
        extra=()
        [ $tool = memcheck ] && extra=(--leak-check full)
        t0=$(date +%s)
        timeout -k 10 170 "$san" --tool $tool --error-exitcode 9 "${extra[@]}" \
          "$B/tests/cuda/cuda_paths" >"$WORK/logs/sanitize-$tool.log" 2>&1
        rc=$?
        summ=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY" "$WORK/logs/sanitize-$tool.log" | tr '\n' ' ')
        case $rc in 0) st=ok ;; 124|137) st=TIMEOUT ;; *) st="FAIL($rc)" ;; esac
        sub "sanitize-$tool" "$st" $(( $(date +%s) - t0 )) "${summ:-no summary line}"
      ) &
      pids+=($!)
    done
  elif [ "$DRY" != 1 ]; then
    sub sanitize skip 0 "compute-sanitizer not found"
  else
    sub sanitize skip 0 "dry run (needs a GPU)"
  fi
  # cuda_model measures device memory (shared weights) and takes almost all
  # of it once (the oversized budget): it runs alone, after everything else
  t0=$(date +%s)
  ctest --test-dir "$B" -L cuda -E '^cuda_model$' -j 3 --timeout 200 -V >"$WORK/logs/ctest.log" 2>&1
  rc1=$?
  for p in "${pids[@]}"; do wait "$p"; done
  ctest --test-dir "$B" -R '^cuda_model$' --timeout 200 -V >>"$WORK/logs/ctest.log" 2>&1
  rc2=$?
  rc=$((rc1 || rc2))
  summ="$(grep -E "[0-9]+% tests passed" "$WORK/logs/ctest.log" | sed 's/ tests failed out of/ failed of/' | tr '\n' ';')"
  nrun=$(grep -c "(Skipped)$" "$WORK/logs/ctest.log")
  case $rc in 0) st=ok ;; *) st=FAIL ;; esac
  sub ctest "$st" $(( $(date +%s) - t0 )) "$summ skipped $nrun"
  # the corpus figures issue 17 asks for, as checks of their own
  grep -E "argmax agreement|matches the cpu backend on the first|^[0-9]+: corpus:" "$WORK/logs/ctest.log" |
    sed -E 's/^[0-9]+: //' | while read -r l; do
      case $l in
        ok*bf16\ vs*) sub corpus-bf16 ok 0 "${l#ok   }" ;;
        FAIL*bf16\ vs*) sub corpus-bf16 FAIL 0 "${l#FAIL }" ;;
        ok*f16\ vs*) sub corpus-f16 ok 0 "${l#ok   }" ;;
        FAIL*f16\ vs*) sub corpus-f16 FAIL 0 "${l#FAIL }" ;;
        ok*cuda\ f32*) sub corpus-f32-cpu ok 0 "${l#ok   }" ;;
        FAIL*cuda\ f32*) sub corpus-f32-cpu FAIL 0 "${l#FAIL }" ;;
        corpus:*) sub corpus-slice ok 0 "${l#corpus: }" ;;
      esac
    done
  cat "$WORK/logs/ctest.log"
  note "$summ"
  exit $rc
}

# bench_forward KIND SHAPE IDS LABEL: ours three ways, the HF peers
bench_forward() {
  local kind=$1 shape=$2 ids=$3 label=$4 rc=0
  local raw=$WORK/raw/$kind.jsonl
  local fw; fw="$(bin)/benchmarks/cuda/bench_cuda_forward"
  local common=(--ids "$ids" --shape "$shape" --max-batch-tokens 16384 --max-batch-seqs 512)
  ( ifsenv
    run_timed 60 "$kind" "$fw" "${common[@]}" --dtype f16 --handles 2 --label "$label ours f16 2 handles" --out "$raw" || exit 1
    run_timed 40 "$kind" "$fw" "${common[@]}" --dtype f16 --handles 1 --no-peak --no-stages --label "$label ours f16 1 handle" --out "$raw" || exit 1
    run_timed 50 "$kind" "$fw" "${common[@]}" --dtype bf16 --handles 2 --no-stages --label "$label ours bf16 2 handles" --out "$raw" || exit 1
  ) || rc=1
  local H=$ROOT/benchmarks/cuda/bench_hf.py
  # the peers' JSON lines are their last '"bench": "hf_forward"' line in the log
  run_timed 90 "$kind" "$PY" "$H" forward "${common[@]}" --dtype f16 --repeat 3 --device "$PEER_DEVICE" --label "$label hf eager" &&
    grep -F '"bench": "hf_forward"' "$WORK/logs/$kind.log" | tail -1 >>"$raw" || rc=1
  run_timed 150 "$kind" "$PY" "$H" forward "${common[@]}" --dtype f16 --repeat 3 --compile --device "$PEER_DEVICE" --label "$label hf compile" &&
    grep -F '"bench": "hf_forward"' "$WORK/logs/$kind.log" | tail -1 >>"$raw" || rc=1
  note "$(grep -c . "$raw" 2>/dev/null) of 5 runs"
  return $rc
}
step_fwd_minilm() { bench_forward fwd_minilm minilm "$WORK/ids512.bin" minilm-512; }
step_fwd_bert() { bench_forward fwd_bert bert-base "$WORK/ids512-5k.bin" bert-base-512; }

# bench_e2e KIND MODEL MAXLEN SHARD_DIR IDS LABEL
bench_e2e() {
  local kind=$1 model=$2 maxlen=$3 shards=$4 ids=$5 label=$6 rc=0
  local raw=$WORK/raw/$kind.jsonl
  mkdir -p "$WORK/$kind"
  ( ifsenv
    run_timed 60 "$kind" "$(bin)/benchmarks/cuda/bench_cuda_forward" --ids "$ids" --model "$model" \
      --dtype f16 --handles 2 --no-peak --label "$label ours forward-only" --out "$raw" || exit 1
    t0=$(date +%s.%N)
    run_timed 120 "$kind" "$(bin)/ifscore" score --model "$model" --backend cuda --dtype f16 \
      --max-len "$maxlen" --threads "$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))" --format none \
      --no-progress --stats --out "$WORK/$kind/report.json" "$shards" || exit 1
    t1=$(date +%s.%N)
    "$PY" - "$WORK/$kind/report.json" "$t0" "$t1" "$label" "$model" "$maxlen" >>"$raw" <<'PYEOF'
import json, sys
rep = json.load(open(sys.argv[1]))
secs = float(sys.argv[3]) - float(sys.argv[2])
n = rep.get("counts", {}).get("scored")
print(json.dumps({"bench": "ifscore_score", "label": sys.argv[4] + " ours e2e", "model": sys.argv[5],
                  "max_len": int(sys.argv[6]), "seconds": round(secs, 3), "records": n,
                  "seqs_per_s": round(n / secs, 1) if n else None,
                  "timings": rep.get("timings"), "counts": rep.get("counts")}))
PYEOF
  ) || rc=1
  IFS_LIBZSTD=$(state libzstd) run_timed 150 "$kind" "$PY" "$ROOT/benchmarks/cuda/bench_hf.py" e2e \
    --model "$model" --dtype f16 --max-len "$maxlen" --device "$PEER_DEVICE" --label "$label hf eager e2e" \
    --shards "$shards"/*.jsonl.zst &&
    grep -F '"bench": "hf_e2e"' "$WORK/logs/$kind.log" | tail -1 >>"$raw" || rc=1
  note "$(grep -c . "$raw" 2>/dev/null) of 3 runs"
  return $rc
}
step_e2e_minilm() {
  bench_e2e e2e_minilm "$NODE/models/ifs-tone-minilm-l6-full" 64 "$NODE/shards-x$COPIES" \
    "$WORK/ids64.bin" "minilm-64 default classifier x$COPIES"
}
step_e2e_bert() {
  bench_e2e e2e_bert "$NODE/models/bert-base-random" 512 "$NODE/shards" "$WORK/ids512.bin" \
    "bert-base-512 random"
}

step_profile() {
  ifsenv
  fw="$(bin)/benchmarks/cuda/bench_cuda_forward"
  args=(--ids "$WORK/ids512-5k.bin" --shape minilm --dtype f16 --repeat 1 --min-seconds 0 --no-peak --no-stages)
  ncu=$(command -v ncu || find /opt/nvidia /usr/local -maxdepth 6 -name ncu -type f 2>/dev/null | head -1)
  if [ -n "$ncu" ]; then
    run_timed 80 profile "$ncu" --clock-control none --launch-skip 200 --launch-count 40 \
      --print-summary per-kernel "$fw" "${args[@]}" && sub ncu ok 0 "per-kernel summary in profile.log" ||
      sub ncu warn 0 "ncu did not finish: see profile.log"
  else
    sub ncu skip 0 "ncu not found"
  fi
  if command -v nsys >/dev/null; then
    run_timed 60 profile nsys profile --stats=true --force-overwrite true -o "$WORK/nsys-minilm" \
      "$fw" "${args[@]}" && sub nsys ok 0 "stats in profile.log" || sub nsys warn 0 "see profile.log"
  else
    sub nsys skip 0 "nsys not on PATH"
  fi
  note "ncu: ${ncu:-none}"
}

step_report() {
  "$PY" "$ROOT/benchmarks/cuda/device_report.py" --work "$WORK" --out "$OUTD" \
    --gpu "$(state gpu)" --commit "$(state commit)" --budget "$BUDGET" --elapsed $(( $(date +%s) - T_START ))
}
export -f step_env step_unpack step_smoke step_fallback step_prepare step_correct bench_forward \
  step_fwd_minilm step_fwd_bert bench_e2e step_e2e_minilm step_e2e_bert step_profile step_report
export T_START BUDGET
# sourced with IFS_DEVICE_CHECK_LIB=1: the functions only (to rehearse them)
if [ "${IFS_DEVICE_CHECK_LIB:-0}" = 1 ]; then return 0 2>/dev/null || exit 0; fi

#         name       timeout need gpu
run_step env         30      5    0
run_step unpack      90      15   0
run_step smoke       60      10   1
run_step fallback    240     150  0
run_step prepare     150     40   0
run_step correct     270     90   0
run_step fwd_minilm  200     90   1
run_step fwd_bert    200     90   1
run_step e2e_minilm  200     60   1
run_step e2e_bert    160     60   1
run_step profile     120     40   1
# the report always runs, whatever is left
DEADLINE=$((DEADLINE + 60))
run_step report      60      0    0
tar -C "$WORK" -czf "$OUTD/logs.tar.gz" logs notes steps.tsv sub.tsv raw state 2>/dev/null
cat "$OUTD/summary.txt" 2>/dev/null || cat "$WORK/steps.tsv"
if grep -qE $'\t(FAIL|TIMEOUT)' "$WORK/steps.tsv" "$WORK/sub.tsv"; then exit 1; fi
exit 0
