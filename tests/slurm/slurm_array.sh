#!/usr/bin/env bash
# slurm_array.sh - ifscore under a real Slurm, started on this machine from
# Debian's packages (slurmctld + slurmd, AuthType=auth/none, config and
# state in a temporary folder, daemons on 127.0.0.1 and stopped at the end),
# running the user's job scripts of examples/slurm/ (CPU variant: the
# `#SBATCH --gres=gpu:1` line deleted and IFS_BACKEND=cpu, as their comments
# say for a node without GPUs) over 24 shards made by `ifscore pack`:
#   0. `ifscore slurm-slice` in real arrays: a throttled stepped range
#      (3-9:3%2) numbers its tasks 0..2; a list (1,3,7) is refused in every
#      task, naming the variables;
#   1. an array of 4 tasks and the afterok reduce: the merged report is
#      byte-identical to one `ifscore score` over the same shards
#      (--no-timings); a merge of 3 of the 4 task reports is refused, naming
#      the missing slice;
#   2. the same run with one task requeued mid-run (`scontrol requeue`: the
#      preemption path) and another warned as before its time limit
#      (`scancel --batch --signal=USR1`, what --signal=B:USR1@300 sends):
#      both stop with exit 130 after some shards, run again, resume (the
#      finished shards are skipped) and the final report is still
#      byte-identical;
#   3. an array with a step (--array=0-6:2): slices 0..3 of 4, every shard
#      scored exactly once, the same report.
# Skips (77) only where Slurm cannot run here: not installed, or the
# daemons do not come up (their logs are printed). IFS_REQUIRE_SLURM=1 turns
# those skips into failures (CI, where scripts/setup.sh installs Slurm).
set -u
BIN=${IFS_BIN:?IFS_BIN is not set}
TMP=${IFS_TEST_TMP:?IFS_TEST_TMP is not set}
SRC=${IFS_SOURCE_DIR:?IFS_SOURCE_DIR is not set}
T0=$SECONDS

skip() {
  if [ "${IFS_REQUIRE_SLURM:-0}" = 1 ]; then
    echo "FAIL (IFS_REQUIRE_SLURM=1, so no skip): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
for c in slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
  command -v $c >/dev/null ||
    skip "$c is not installed (scripts/setup.sh installs slurmctld, slurmd and slurm-client)"
done
PY=$(command -v python3) || skip "python3 is not installed"
# Nothing of an outer Slurm job may leak into ours.
for v in $(env | sed -n 's/^\(SLURM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
note() { echo "--   $* ($((SECONDS - T0)) s)"; }

W=$TMP/w
rm -rf "$W"
mkdir -p "$W"
# The daemons' folders get a short path: slurmstepd puts unix sockets there.
D=$(mktemp -d /tmp/ifs-slurm.XXXXXX)
CTLD_PID= SLURMD_PID=
cleanup() {
  if [ -n "$CTLD_PID" ]; then
    scancel --quiet --user="$(id -un)" 2>/dev/null
    local until=$((SECONDS + 30))
    while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $SECONDS -lt $until ]; do sleep 0.2; done
  fi
  for pid in $SLURMD_PID $CTLD_PID; do
    kill "$pid" 2>/dev/null || continue
    local until=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$D"
}
trap cleanup EXIT

# --- a Slurm of one node ------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=
for try in 1 2 3 4 5 6 7 8 9 10; do
  p=$((20000 + (RANDOM * 7 + $$) % 30000))
  if port_free $p && port_free $((p + 1)); then base=$p; break; fi
done
[ -n "$base" ] || skip "no two free TCP ports found on 127.0.0.1"
host=$(hostname -s 2>/dev/null || hostname)
cpus=$(slurmd -C 2>/dev/null | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' | head -1)
[ -n "$cpus" ] || cpus=$(nproc)
user=$(id -un)
mkdir -p "$D/state" "$D/spool" "$D/log"
: > "$D/plugstack.conf"
cat > "$D/slurm.conf" <<EOF
ClusterName=ifstest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/none
CredType=cred/none
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
PlugStackConfig=$D/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=ifs Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$D/slurm.conf
slurmctld -D -c -f "$SLURM_CONF" > "$D/log/slurmctld.out" 2>&1 &
CTLD_PID=$!
slurmd -D -f "$SLURM_CONF" -N "$host" > "$D/log/slurmd.out" 2>&1 &
SLURMD_PID=$!
up=0
for i in $(seq 1 150); do
  if [ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" = idle ]; then up=1; break; fi
  kill -0 $CTLD_PID 2>/dev/null && kill -0 $SLURMD_PID 2>/dev/null || break
  sleep 0.2
done
if [ $up != 1 ]; then
  for f in "$D"/log/*; do echo "== $f"; tail -n 15 "$f"; done
  skip "Slurm did not start here (slurmctld + slurmd on 127.0.0.1:$base; logs above)"
fi
note "Slurm $(sinfo -V | awk '{print $2}') up: node $host, $cpus CPUs, ports $base-$((base + 1))"

# --- helpers -------------------------------------------------------------------
# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local until=$((SECONDS + $1)) what=$2
  shift 2
  while ! "$@"; do
    if [ $SECONDS -ge $until ]; then
      fail "timed out waiting for $what"
      squeue
      tail -n 20 "$D/log/slurmctld.log"
      return 1
    fi
    sleep 0.05
  done
}
gone() { [ -z "$(squeue -h -o %i -j "$1" 2>/dev/null)" ]; }
# The reduce job is gone, or can never run (a task failed): stop waiting.
reduce_over() {
  gone "$1" && return 0
  [ "$(squeue -h -o %r -j "$1" 2>/dev/null)" = DependencyNeverSatisfied ] || return 1
  echo "reduce job $1 will never run: a task of its array failed"
}
# Field of `scontrol -o show job` for one job (or array task), e.g. JobState.
field() { scontrol -o show job "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# "COMPLETED 0:0" for every task of array job $1 (and $2 tasks of them).
all_completed() {
  local n
  n=$(scontrol -o show job "$1" | grep -c 'JobState=COMPLETED .*ExitCode=0:0')
  [ "$n" -eq "$2" ]
}
n_done() { find "$1" -name '*.done' 2>/dev/null | wc -l; }
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# --- data, model, reference ------------------------------------------------------
"$PY" "$SRC/tests/host/e2e_score_data.py" --many "$W/gen" 24 3000 17 || exit 1
"$BIN" pack --out "$W/shards" --records 3000 "$W/gen" > /dev/null || exit 1
n_shards=$(ls "$W"/shards/*.jsonl.zst | wc -l)
check "pack_made_24_shards" test "$n_shards" -eq 24
"$BIN" gen-model --out "$W/model" --seed 5 --hidden 32 --layers 1 --heads 2 --intermediate 64 \
  --init test --vocab "$W/gen/vocab.txt" > /dev/null || exit 1
# A random model's probabilities sit close together: a threshold at their
# median (over one shard) makes both labels occur, so the counts mean something.
"$BIN" score --model "$W/model" --backend cpu --cpu-threads 1 --format none --no-progress \
  --out "$W/th.json" --scores "$W/th.jsonl" "$W"/shards/shard-00000.jsonl.zst || exit 1
TH=$("$PY" -c 'import json,sys
p = sorted(json.loads(l)["p_answer"] for l in open(sys.argv[1]))
print("%.6f" % p[len(p) // 2])' "$W/th.jsonl")
# What the tasks run, but for --slice, --resume and the outputs (threads do
# not change a report; the batch budget could, so it is the default in both).
common=(--cpu-threads 1 --threshold "$TH")
"$BIN" score --model "$W/model" --backend cpu "${common[@]}" --no-timings --format none \
  --no-progress --out "$W/ref.json" "$W/shards" || exit 1
check "the_reference_has_both_labels" test "$(json "$W/ref.json" \
  '0 < d["counts"]["answer_like"] < d["counts"]["scored"] == 72000')" = True
note "reference: one ifscore score over $n_shards shards, threshold $TH"

# The user's scripts, CPU variant: what their comments say to change without a GPU.
cp -r "$SRC/examples/slurm" "$W/scripts"
grep -q '^#SBATCH --gres=gpu:1$' "$W/scripts/score-array.sbatch" ||
  fail "score-array.sbatch has no '#SBATCH --gres=gpu:1' line to delete"
sed -i '/^#SBATCH --gres=/d' "$W/scripts/score-array.sbatch"
export IFSCORE=$BIN IFS_BACKEND=cpu IFS_SCORE_ARGS="${common[*]}" IFS_REDUCE_ARGS=--no-timings
submit() { # submit RUN_DIR [submit.sh options]: sets SJOB and RJOB
  local run=$1
  shift
  "$W/scripts/submit.sh" "$@" --sbatch --cpus-per-task=1 --sbatch --time=00:20:00 \
    "$run" "$W/model" "$W/shards" > "$run.ids" || { fail "submit.sh $*"; return 1; }
  SJOB=$(sed -n 's/^score_job=//p' "$run.ids")
  RJOB=$(sed -n 's/^reduce_job=//p' "$run.ids")
  [ -n "$SJOB" ] && [ -n "$RJOB" ] && cmp -s "$run.ids" "$run/jobs.env"
}

# --- 0. the slice mapping on real array variables ---------------------------------
mkdir -p "$W/probe"
P1=$(sbatch --parsable --array=3-9:3%2 --output="$W/probe/thr-%a.out" --wrap "$BIN slurm-slice")
P2=$(sbatch --parsable --array=1,3,7 --output="$W/probe/list-%a.out" --wrap "$BIN slurm-slice")

# --- 1. an array of 4 tasks and the afterok reduce ---------------------------------
R1=$W/run1
submit "$R1" --tasks 4 || exit 1
wait_for 240 "run 1 (array $SJOB, reduce $RJOB)" reduce_over "$RJOB"
check "run1_every_task_completed_with_exit_0" all_completed "$SJOB" 4
check "run1_the_reduce_job_completed" test "$(field "$RJOB" JobState)" = COMPLETED
check "run1_each_task_wrote_its_slice" test "$(ls "$R1/tasks" | tr '\n' ' ')" = \
  "slice-0-of-4 slice-1-of-4 slice-2-of-4 slice-3-of-4 "
check "run1_merged_report_equals_one_score_run_byte_for_byte" cmp "$R1/report.json" "$W/ref.json"
check "run1_reduce_wrote_the_table" grep -q "^read 72000 lines from 24 inputs: 72000 scored" \
  "$R1/report.txt"
note "run 1: array $SJOB of 4 tasks, reduce $RJOB"

# The missing-slice refusal, on these task reports. A slice report says which
# slice of which list it holds ("slice" member, docs/report-schema.md); until
# the score run writes it (host/score.c), it is added here exactly as
# ifs_reduce_set_slice + ifs_slurm_inputs_sha256 would.
expect_slice_record=1
"$PY" - "$R1/tasks" "$W/shards" "$expect_slice_record" > "$W/slice-record.txt" <<'EOF'
import glob, hashlib, json, os, sys
tasks, shards, expect = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
paths = sorted(glob.glob(os.path.join(shards, "*.jsonl.zst")), key=os.fsencode)
want_sha = hashlib.sha256(b"".join(os.fsencode(p) + b"\0" for p in paths)).hexdigest()
for i in range(4):
    f = os.path.join(tasks, "slice-%d-of-4" % i, "report.json")
    text = open(f).read()
    d = json.loads(text)
    want = {"count": 4, "indexes": [i], "inputs_sha256": want_sha}
    if "slice" in d:
        if d["slice"] != want:
            print("WRONG %s: %s, want %s" % (f, d["slice"], want))
        continue
    if expect:
        print("MISSING %s has no slice record" % f)
        continue
    member = ('  "slice": {\n    "count": 4,\n    "indexes": [%d],\n'
              '    "inputs_sha256": "%s"\n  },\n' % (i, want_sha))
    at = text.index('  "counts": {')
    os.rename(f, f + ".orig")
    open(f, "w").write(text[:at] + member + text[at:])
    print("ADDED %s" % f)
EOF
if grep -q '^ADDED' "$W/slice-record.txt"; then
  note "score does not write the slice record yet: added to the 4 task reports as it will be"
fi
check "run1_task_reports_hold_the_right_slice_records" \
  test -z "$(grep -E '^(WRONG|MISSING)' "$W/slice-record.txt")"
"$BIN" reduce -q --no-timings -o "$W/merged4.json" "$R1"/tasks/*/report.json
check "all_four_slice_reports_merge_to_the_one_run_report" cmp "$W/merged4.json" "$W/ref.json"
"$BIN" reduce -q -o "$W/merged3.json" "$R1"/tasks/slice-{0,1,3}-of-4/report.json 2> "$W/missing.err"
rc=$?
check "a_merge_with_a_slice_missing_exits_3" test $rc -eq 3
check "the_refusal_names_the_missing_slice" grep -q "slice 2 of 4 is missing" "$W/missing.err"
check "a_refused_merge_writes_nothing" test ! -e "$W/merged3.json"
"$BIN" reduce -q --allow-partial -o "$W/merged3.json" "$R1"/tasks/slice-{0,1,3}-of-4/report.json
check "allow_partial_merges_and_keeps_the_slices_held" \
  test "$(json "$W/merged3.json" 'd["slice"]["indexes"]')" = "[0, 1, 3]"
for f in "$R1"/tasks/*/report.json.orig; do [ -e "$f" ] && mv "$f" "${f%.orig}"; done

# --- 0 (results). ---------------------------------------------------------------------
wait_for 60 "the slurm-slice probes" gone "$P1,$P2"
check "throttled_step_array_tasks_are_slices_0_1_2_of_3" \
  test "$(cat "$W/probe/thr-3.out" "$W/probe/thr-6.out" "$W/probe/thr-9.out" | tr '\n' ' ')" = \
  "0/3 1/3 2/3 "
check "throttled_step_array_tasks_completed" all_completed "$P1" 3
check "every_task_of_a_list_array_fails_with_exit_2" \
  test "$(scontrol -o show job "$P2" | grep -c 'JobState=FAILED .*ExitCode=2:0')" -eq 3
check "a_list_array_is_refused_naming_the_variables" \
  grep -q "SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_MAX=7, SLURM_ARRAY_TASK_STEP=1, SLURM_ARRAY_TASK_COUNT=3" \
  "$W/probe/list-3.out"

# --- 2. preemption (requeue) and the time-limit warning, mid-run --------------------
R2=$W/run2
submit "$R2" --tasks 4 || exit 1
S1=$R2/tasks/slice-1-of-4 S2=$R2/tasks/slice-2-of-4
rq_at= warn_at= until=$((SECONDS + 180))
# Act on each task as soon as its first shard is committed, before its last.
while [ -z "$rq_at" ] || [ -z "$warn_at" ]; do
  if [ -z "$rq_at" ] && [ "$(n_done "$S1/state")" -ge 1 ]; then
    [ -e "$S1/report.json" ] && { fail "slice 1 finished before it could be requeued"; break; }
    scontrol requeue "${SJOB}_1" && rq_at=$(n_done "$S1/state")
  fi
  if [ -z "$warn_at" ] && [ "$(n_done "$S2/state")" -ge 1 ]; then
    [ -e "$S2/report.json" ] && { fail "slice 2 finished before it could be warned"; break; }
    scancel --batch --signal=USR1 "${SJOB}_2" && warn_at=$(n_done "$S2/state")
  fi
  [ $SECONDS -lt $until ] || { fail "slices 1 and 2 never started committing shards"; break; }
  sleep 0.02
done
note "run 2: requeued ${SJOB}_1 at $rq_at shards done, warned ${SJOB}_2 at $warn_at"
# Slurm holds a requeued job about two minutes before it may start again; let them go now.
requeued() { [ "$(field "$1" JobState)" = PENDING ] && [ "$(field "$1" Restarts)" -ge 1 ]; }
for t in 1 2; do
  wait_for 60 "task ${SJOB}_$t to be requeued" requeued "${SJOB}_$t" &&
    scontrol update JobId="${SJOB}_$t" StartTime=now
done
wait_for 240 "run 2 (array $SJOB, reduce $RJOB)" reduce_over "$RJOB"
check "run2_every_task_completed_in_the_end" all_completed "$SJOB" 4
check "run2_the_reduce_job_ran_after_the_requeued_tasks" test "$(field "$RJOB" JobState)" = COMPLETED
check "run2_merged_report_is_still_byte_identical" cmp "$R2/report.json" "$W/ref.json"
L1=$(ls "$R2"/logs/score-*_1.out) L2=$(ls "$R2"/logs/score-*_2.out)
for t in 1 2; do
  L=$(ls "$R2"/logs/score-*_$t.out)
  S=$R2/tasks/slice-$t-of-4
  stopped=$(sed -n 's/.*stopped after \([0-9]*\) of 6 shards.*/\1/p' "$L" | head -1)
  check "run2_slice_${t}_ran_twice" test "$(field "${SJOB}_$t" Restarts)" = 1
  check "run2_slice_${t}_stopped_mid_run_with_exit_130" \
    test -n "$stopped" -a "${stopped:-0}" -ge 1 -a "${stopped:-9}" -lt 6
  # Exactly the shards the stop message counted (ifs_sched_finish waits for
  # the chunk the sink is committing, so the count is final when printed).
  resumed=$(json "$S/report.json" 'd["timings"]["facts"]["shards_resumed"]')
  check "run2_slice_${t}_resumed_skipping_the_shards_it_had_done" \
    test -n "$stopped" -a "${resumed:-0}" -eq "${stopped:-9}" -a "${resumed:-9}" -lt 6
done
check "run2_the_requeue_was_a_requeue" grep -q "DUE TO JOB REQUEUE" "$L1"
check "run2_the_requeued_task_said_its_state_is_resumable" grep -q "is resumable" "$L1"
check "run2_the_warned_task_requeued_itself" \
  grep -q "stopped before the time limit; requeueing to resume" "$L2"
check "run2_the_second_runs_say_so" grep -q "run 1 after the first" "$L2"

# --- 3. an array with a step ------------------------------------------------------
R3=$W/run3
submit "$R3" --array 0-6:2 || exit 1
wait_for 240 "run 3 (array $SJOB, reduce $RJOB)" reduce_over "$RJOB"
check "run3_every_task_completed" all_completed "$SJOB" 4
check "run3_tasks_0_2_4_6_scored_slices_0_to_3_of_4" test "$(ls "$R3/tasks" | tr '\n' ' ')" = \
  "slice-0-of-4 slice-1-of-4 slice-2-of-4 slice-3-of-4 "
for t in 0 2 4 6; do
  check "run3_array_task_${t}_scored_slice_$((t / 2))" \
    grep -q "array task ${SJOB}_$t) on .*, slice $((t / 2))/4" "$R3"/logs/score-*_$t.out
done
check "run3_every_shard_was_scored_exactly_once" test "$("$PY" - "$R3/report.json" "$W/shards" <<'EOF'
import collections, glob, json, os, sys
d = json.load(open(sys.argv[1]))
seen = collections.Counter(i["path"] for i in d["inputs"])
want = sorted(glob.glob(os.path.join(sys.argv[2], "*.jsonl.zst")))
print("yes" if sorted(seen) == want and set(seen.values()) == {1} else "no: %s" % seen)
EOF
)" = yes
check "run3_merged_report_equals_one_score_run" cmp "$R3/report.json" "$W/ref.json"

note "done"
if [ $fails -ne 0 ]; then
  echo "slurm_array: $fails failure(s); work folder $W"
  exit 1
fi
echo "slurm_array: all passed"
