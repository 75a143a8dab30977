#!/usr/bin/env bash
# Submit a sharded metanas database build to Slurm: a job array with one shard per task
# (build.sbatch) and a merge job that runs once every shard succeeded (merge.sbatch).
#
#   deploy/slurm/submit.sh --plan PLAN --out DIR --shards N [--cpus C] [--db PATH]
#                          [--sbatch "OPTIONS"] [-- BUILD ARGS...]
#
#   --plan     the plan (JSON); --out the output folder (shards in DIR/shards, logs in DIR/logs,
#              the merged store DIR/runs.jsonl); both on a file system every node sees
#   --shards   N array tasks, 0..N-1 (default 4); --cpus C per task (default 2): C workers
#   --db       the metanas-db binary (default: metanas-db on PATH, else target/release/metanas-db)
#   --sbatch   extra sbatch options for both jobs, e.g. "--partition=cpu --account=nas --time=2-0"
#   after --    arguments for every `metanas-db build`, e.g. -- --done db/runs.jsonl --groups test/
#   --merge-after JOBS   submit only a merge job, after JOBS succeeded (sbatch's afterok list,
#              e.g. 1234_3 or 1234_3:1234_7): the recovery when a task failed and was requeued by
#              hand, since Slurm then never satisfies the first merge's afterok on the whole array
#
# Prints the two job ids as `array job ID` / `merge job ID` lines. Resubmitting the same command
# resumes: every shard skips the runs its store already holds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plan="" out="" shards=4 cpus=2 db="" extra="" merge_after=""
die() {
    echo "submit.sh: $*" >&2
    exit 2
}
while (($#)); do
    case "$1" in
    --plan) plan=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --sbatch) extra=$2; shift 2 ;;
    --merge-after) merge_after=$2; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see the header of $0)" ;;
    esac
done
[ -f "$plan" ] || die "--plan: no such file: '$plan'"
[ -n "$out" ] || die "--out is required"
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || die "--shards must be a positive integer"
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer"
command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"
if [ -z "$db" ]; then
    db=$(command -v metanas-db || true)
    [ -n "$db" ] || db="$here/../../target/release/metanas-db"
fi
[ -x "$db" ] || die "no metanas-db binary at '$db' (cargo build --release -p model-zoo --bin metanas-db)"

mkdir -p "$out/shards" "$out/logs"
export METANAS_PLAN METANAS_OUT METANAS_SHARDS METANAS_DB
METANAS_PLAN=$(realpath "$plan")
METANAS_OUT=$(realpath "$out")
METANAS_SHARDS=$shards
METANAS_DB=$(realpath "$db")
if [ -n "$merge_after" ]; then
    # shellcheck disable=SC2086 # $extra is a list of sbatch options
    merge=$(sbatch --parsable $extra --dependency="afterok:$merge_after" \
        --output="$METANAS_OUT/logs/merge.%j.log" "$here/merge.sbatch")
    echo "merge job ${merge%%;*}"
    exit 0
fi
# shellcheck disable=SC2086
array=$(sbatch --parsable $extra --array="0-$((shards - 1))" --cpus-per-task="$cpus" \
    --output="$METANAS_OUT/logs/build.%A_%a.log" "$here/build.sbatch" "$@")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable $extra --dependency="afterok:$array" \
    --output="$METANAS_OUT/logs/merge.%j.log" "$here/merge.sbatch")
merge=${merge%%;*}
echo "array job $array"
echo "merge job $merge"
echo "shards $METANAS_OUT/shards/runs.{0..$((shards - 1))}.jsonl, merged store $METANAS_OUT/runs.jsonl, logs $METANAS_OUT/logs/"
