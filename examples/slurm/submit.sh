#!/bin/bash
# submit.sh - submits one scoring run to Slurm: an array of score tasks over
# a shard set (score-array.sbatch), and the job that merges their reports
# once every task succeeded (reduce.sbatch, --dependency=afterok). Prints the
# two job ids. docs/slurm.md says what each task writes and how to rerun one.
#
#   submit.sh [--tasks N | --array SPEC] [--sbatch OPTION]... [--score-sbatch OPTION]...
#             RUN_DIR MODEL_DIR SHARD|DIR...
#
#   --tasks N        N tasks, --array=0-(N-1) (default 4)
#   --array SPEC     any one range, with a step and a throttle if you like:
#                    0-63, 0-126:2, 0-63%8. Lists (1,3,7) are refused: their
#                    tasks cannot be numbered 0..N-1
#   --sbatch OPTION  passed to both sbatch calls (repeat it), e.g.
#                    --sbatch --partition=gpu --sbatch --account=myproject;
#                    it overrides the scripts' #SBATCH lines
#   --score-sbatch OPTION  the same, for the score array only (--gres=gpu:a100:1)
#   RUN_DIR          a new folder for this run: tasks/, logs/, report.json
#   MODEL_DIR        the classifier checkpoint
#   SHARD|DIR...     what `ifscore score` takes; spell it the same way in any
#                    later run you compare with (reports record paths as given)
#
# Output (stdout, also written to RUN_DIR/jobs.env):
#   score_job=<array job id>
#   reduce_job=<reduce job id>
# Environment: IFSCORE, IFS_BACKEND, IFS_SCORE_ARGS, IFS_REDUCE_ARGS (see the
# two scripts) travel with the jobs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tasks=4 array= extra=() score_extra=()
usage() {
  sed -n '7,8p' "$0" | sed 's/^#   //' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --tasks) [ $# -ge 2 ] || usage; tasks=$2; shift 2 ;;
    --array) [ $# -ge 2 ] || usage; array=$2; shift 2 ;;
    --sbatch) [ $# -ge 2 ] || usage; extra+=("$2"); shift 2 ;;
    --score-sbatch) [ $# -ge 2 ] || usage; score_extra+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "submit.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || usage
run=$1 model=$2
shift 2

if [ -z "$array" ]; then
  [[ $tasks =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: --tasks $tasks: want a count >= 1" >&2; exit 2; }
  array=0-$((tasks - 1))
fi
# One range A or A-B[:S], throttle %K allowed: what `ifscore slurm-slice` can number.
if ! [[ $array =~ ^[0-9]+(-[0-9]+(:[1-9][0-9]*)?)?(%[1-9][0-9]*)?$ ]]; then
  echo "submit.sh: --array $array: give one range A-B, A-B:S (a %K throttle is fine);" \
       "a list's tasks cannot be numbered 0..N-1" >&2
  exit 2
fi
ifscore=$(command -v "${IFSCORE:-ifscore}") ||
  { echo "submit.sh: ${IFSCORE:-ifscore} not found (set IFSCORE to the binary)" >&2; exit 2; }
export IFSCORE=$ifscore
[ -f "$model/config.json" ] || { echo "submit.sh: $model has no config.json" >&2; exit 2; }
if [ -e "$run/tasks" ]; then
  echo "submit.sh: $run/tasks exists: use a new RUN_DIR, or rerun the tasks of that run" \
       "(docs/slurm.md)" >&2
  exit 2
fi
mkdir -p "$run/logs"
run=$(cd "$run" && pwd)
model=$(cd "$model" && pwd)

score_job=$(sbatch --parsable --array="$array" --output="$run/logs/score-%A_%a.out" \
  ${extra[@]+"${extra[@]}"} ${score_extra[@]+"${score_extra[@]}"} \
  "$here/score-array.sbatch" "$run" "$model" "$@")
score_job=${score_job%%;*}
reduce_job=$(sbatch --parsable --dependency=afterok:"$score_job" \
  --output="$run/logs/reduce-%j.out" ${extra[@]+"${extra[@]}"} "$here/reduce.sbatch" "$run")
reduce_job=${reduce_job%%;*}
printf 'score_job=%s\nreduce_job=%s\n' "$score_job" "$reduce_job" | tee "$run/jobs.env"
echo "submit.sh: array $score_job (--array=$array) scores into $run/tasks; job $reduce_job" \
     "writes $run/report.json when every task succeeded" >&2
