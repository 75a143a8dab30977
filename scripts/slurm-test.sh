#!/usr/bin/env bash
# End-to-end test of deploy/slurm on a real Slurm: installs Slurm from Debian (slurmctld, slurmd,
# munge) when missing, runs a private single-node cluster on this machine (its own munge key and
# socket, its own ports, its state under $SLURM_TEST_DIR; daemons started by hand, no systemd),
# and checks with a tiny plan on the MNIST sample embedded in the repository (no setup-data):
#
#   1. an array of 3 shards x 4 runs (deploy/slurm/submit.sh) and its dependent merge job give
#      a store equal, run for run (same keys, same results but wall time), to a single-process
#      `metanas-db build` of the plan (training is deterministic for a seed);
#   2. preemption: a second array; one task is requeued (scontrol requeue, as PreemptMode=REQUEUE
#      does) in the middle of a run; its store kept every run written before, the second attempt
#      trains only the missing runs (at most the run in flight was lost), and the merge job, still
#      waiting on the array, yields the complete store, equal to the reference;
#   3. crash: the same with SIGKILL to one task's builder (scancel --batch --signal=KILL), the
#      task requeued by hand, and a new merge job after it (the first one's afterok on the whole
#      array can no longer be satisfied: Slurm remembers the failed attempt).
#
#   bash scripts/slurm-test.sh              # the test (about 1.5 min; docs/cluster.md)
#   bash scripts/slurm-test.sh --scaling    # then: the same plan with 1 shard vs 2 shards
#
# Environment: METANAS_DB (a metanas-db binary; default: `cargo build --release --bin metanas-db
# --example quickstart`, a no-op when up to date), SLURM_TEST_DIR (default /tmp/metanas-slurm-test,
# wiped at start), SLURM_TEST_PORT (slurmctld's port, default 16817; slurmd uses the next one),
# SLURM_TEST_TIMEOUT (seconds per wait, default 300). Idempotent: stops daemons a previous run
# left behind (found by its pid files), and stops its own on exit, whatever happens. Only
# processes of this private cluster are signalled: the killed task is named by its job id.
set -Eeuo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
t0=$SECONDS
scaling=0 keep=0 stop=0
for a in "$@"; do
    case "$a" in
    --scaling) scaling=1 ;;
    --keep) keep=1 ;; # leave the cluster up (to look around: export SLURM_CONF=$SLURM_TEST_DIR/slurm.conf)
    --stop) stop=1 ;; # only stop a cluster that --keep left running
    *) echo "usage: $0 [--scaling] [--keep | --stop]" >&2; exit 2 ;;
    esac
done
W=${SLURM_TEST_DIR:-/tmp/metanas-slurm-test}
port=${SLURM_TEST_PORT:-16817}
timeout=${SLURM_TEST_TIMEOUT:-300}
shards=3
runs_per_shard=4
planned=$((shards * runs_per_shard))

log() { echo "slurm-test [$((SECONDS - t0)) s]: $*"; }
fail() {
    trap - ERR
    echo >&2
    echo "slurm-test: FAILED after $((SECONDS - t0)) s: $*" >&2
    for f in "$W"/slurmctld.log "$W"/slurmd.log; do
        [ -f "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
    done
    for f in "$W"/*/logs/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 10 "$f" >&2; }
    done
    exit 1
}
trap 'fail "unexpected error at line $LINENO: $BASH_COMMAND"' ERR

# --- 0. stop what a previous run left -------------------------------------------------------
# Only processes named by our pid files and running the daemon we expect are signalled; jobs are
# cancelled through our own cluster (its slurmctld knows only this script's jobs).
stop_pidfile() { # pidfile name
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$2" ]; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}
stop_cluster() {
    local pid ids
    pid=$(cat "$W/slurmctld.pid" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = slurmctld ]; then
        ids=$(SLURM_CONF=$W/slurm.conf squeue -h -o %A 2>/dev/null || true)
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$W/slurm.conf scancel $ids 2>/dev/null || true
            for _ in $(seq 100); do
                [ -z "$(SLURM_CONF=$W/slurm.conf squeue -h -o %A 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop_pidfile "$W/slurmd.pid" slurmd
    stop_pidfile "$W/slurmctld.pid" slurmctld
    stop_pidfile "$W/munged.pid" munged
}
cleanup() {
    local rc=$?
    trap - ERR
    set +e
    if ((keep)); then
        log "--keep: the cluster is still up: export SLURM_CONF=$W/slurm.conf; stop it with $0 --stop"
    else
        stop_cluster
    fi
    exit $rc
}
if [ -d "$W" ]; then
    stop_cluster
    rm -rf "$W"
fi
if ((stop)); then
    log "stopped the cluster of $W"
    exit 0
fi

# --- 1. packages ------------------------------------------------------------------------------
missing=()
for p in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq || fail "apt-get update failed"
    # The packages' postinst scripts try to start the services; without systemd (or with a
    # policy-rc.d that forbids it) they only say so. Nothing is started here but our own daemons.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"${TMPDIR:-/tmp}/slurm-test-apt.log" 2>&1 ||
        { tail -n 20 "${TMPDIR:-/tmp}/slurm-test-apt.log" >&2; fail "apt-get install ${missing[*]} failed"; }
fi
if [ "$(id -u)" -ne 0 ]; then
    # slurmd must run as root to start jobs; the rest of the script then needs sudo for it.
    fail "run as root (the single-node cluster's slurmd starts jobs as root); e.g. sudo bash $0"
fi
log "slurm $(slurmctld -V | awk '{print $2}'), munge $(munged -V 2>&1 | awk '{print $1}' | sed 's/munge-//')"

# --- 2. the binary ----------------------------------------------------------------------------
if [ -n "${METANAS_DB:-}" ]; then
    db=$(realpath "$METANAS_DB")
    [ -x "$db" ] || fail "METANAS_DB=$METANAS_DB is not an executable"
else
    # Built beside the quickstart (the README's first command) in one workspace-wide build: cargo
    # then resolves features exactly as for the quickstart and only compiles the binary itself
    # (seconds). `-p model-zoo` alone resolves a few dependency features differently and would
    # rebuild a large part of the release dependencies (many minutes on 2 cores).
    log "cargo build --release --bin metanas-db --example quickstart"
    cargo build --release -q --bin metanas-db --example quickstart || fail "cargo build failed"
    db=${CARGO_TARGET_DIR:-$repo/target}/release/metanas-db
fi
log "binary $db"

# --- 3. a private cluster ---------------------------------------------------------------------
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W"/{munge,ctld,spool}
chmod 700 "$W" "$W/munge"

# munge: a key of our own and a socket of our own, so a system munged is neither used nor touched.
head -c 1024 /dev/urandom >"$W/munge/munge.key"
chmod 400 "$W/munge/munge.key"
munged --force --socket="$W/munge/socket" --key-file="$W/munge/munge.key" \
    --pid-file="$W/munged.pid" --log-file="$W/munged.log" --seed-file="$W/munge/seed" ||
    fail "munged did not start"
munge -n -S "$W/munge/socket" | unmunge -S "$W/munge/socket" >/dev/null ||
    fail "munge cannot encode and decode a credential on its own socket"

node=$(uname -n | cut -d. -f1)
# CPUs, sockets, cores, threads and memory as slurmd sees them (its first line: NodeName=...).
hw=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
cat >"$W/slurm.conf" <<EOF
# metanas scripts/slurm-test.sh: a private single-node cluster; every address is loopback.
ClusterName=metanastest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge/socket,cred_expire=10
StateSaveLocation=$W/ctld
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=3600
InactiveLimit=0
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$W/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N "$node" || fail "slurmd did not start"
deadline=$((SECONDS + 60))
until sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; do
    ((SECONDS < deadline)) || fail "node $node is not idle after 60 s: $(sinfo -h -N -o '%T %E' 2>&1)"
    sleep 0.5
done
log "cluster up: node $node ($cpus CPUs), slurmctld on 127.0.0.1:$port, state in $W"

# --- 4. the plan and the reference ------------------------------------------------------------
# One group on the embedded MNIST sample: 3 two-way tasks x (3 uniform + 1 good cell) = 12 runs,
# a protocol of about a second per run. Shards take (task, arch) units modulo 3: 4 runs each.
plan=$W/plan.json
cat >"$plan" <<'EOF'
{
  "name": "slurm-test",
  "seed": 19,
  "good_cells": ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"],
  "groups": [{
    "name": "train/mnist-sample", "role": "meta_train", "source": {"kind": "mnist_sample"},
    "classes": [], "way": 2, "tasks": 3, "uniform_archs": 3, "good_archs": 1, "seeds": 1,
    "connected_only": false, "test_groups": 0,
    "protocol": {"channels": 8, "cells_per_stage": 1, "resolution": 16, "train_per_class": 200,
      "test_per_class": 100, "epochs": 4, "batch_size": 32, "eval_batch_size": 256, "lr": 0.1,
      "momentum": 0.9, "weight_decay": 0.0005, "bn_recalibration": true,
      "test_every_epoch": false, "seeds_per_record": 1}
  }]
}
EOF

# compare.py A B: same keys, no duplicates, no failed run, equal results (but wall seconds).
cat >"$W/compare.py" <<'EOF'
import json, sys

def load(path):
    lines = open(path).read().split("\n")
    head = json.loads(lines[0])
    assert head == {"format": "metanas-runs", "version": 1}, f"{path}: header {head}"
    out = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        r = json.loads(line)
        key = json.dumps([r["task"], r["arch"], r["protocol"], r["seed"]], sort_keys=True)
        assert key not in out, f"{path}: line {n}: run stored twice ({r['arch']})"
        assert r["result"]["status"]["status"] == "ok", f"{path}: line {n}: run {r['result']['status']}"
        r["result"].pop("wall_seconds")
        out[key] = r
    return out

a, b = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == int(sys.argv[3]), f"{sys.argv[1]} holds {len(a)} runs, the plan {sys.argv[3]}"
assert a.keys() == b.keys(), f"keys differ: {len(a.keys() - b.keys())} only in {sys.argv[1]}, {len(b.keys() - a.keys())} only in {sys.argv[2]}"
for k in a:
    assert a[k] == b[k], f"run {a[k]['arch']} differs:\n{a[k]['result']}\n{b[k]['result']}"
print(f"{len(a)} runs, equal run for run")
EOF
compare() { python3 "$W/compare.py" "$1" "$2" "$planned" || fail "$1 is not equal to $2 (above)"; }

log "reference: a single-process build of the plan ($planned runs)"
ref_start=$SECONDS
RAYON_NUM_THREADS=1 "$db" build --plan "$plan" --store "$W/reference.jsonl" --workers 1 \
    >"$W/reference.log" 2>&1 || { cat "$W/reference.log"; fail "the reference build failed"; }
ref_seconds=$((SECONDS - ref_start))
log "reference: $(tail -1 "$W/reference.log") in $ref_seconds s"

# --- helpers ----------------------------------------------------------------------------------
state() { scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2 || true; }
reason() { scontrol show job -o "$1" 2>/dev/null | grep -o 'Reason=[^ ]*' | head -1 | cut -d= -f2 || true; }
records() { # records (lines after the header) in a store
    if [ -f "$1" ]; then echo $(($(wc -l <"$1") - 1)); else echo 0; fi
}
submit() { # out-dir shards -> sets $array and $merge
    local o
    o=$(bash deploy/slurm/submit.sh --plan "$plan" --out "$1" --shards "$2" --cpus 1 --db "$db") ||
        fail "submit.sh failed: $o"
    array=$(awk '/^array job/ {print $3}' <<<"$o")
    merge=$(awk '/^merge job/ {print $3}' <<<"$o")
    if [ -z "$array" ] || [ -z "$merge" ]; then fail "submit.sh printed no job ids: $o"; fi
}
wait_merge() { # wait until the merge job $merge has finished; fail unless COMPLETED
    local deadline=$((SECONDS + timeout)) s r
    while :; do
        s=$(state "$merge")
        case "$s" in
        COMPLETED) return 0 ;;
        PENDING | RUNNING | CONFIGURING | COMPLETING | REQUEUED) ;;
        *) fail "merge job $merge ended $s" ;;
        esac
        r=$(reason "$merge")
        [ "$r" != DependencyNeverSatisfied ] ||
            fail "merge job $merge will never run: a shard failed ($(squeue -h -j "$array" -o '%i %T %r' | tr '\n' ';'))"
        ((SECONDS < deadline)) || fail "merge job $merge still $s after $timeout s"
        sleep 0.5
    done
}
check_tasks_completed() { # every array task of $array ended COMPLETED
    local i s
    for ((i = 0; i < $1; i++)); do
        s=$(state "${array}_$i")
        [ "$s" = COMPLETED ] || fail "array task ${array}_$i ended $s"
    done
}

# --- 5. test 1: array + dependent merge = single-process build --------------------------------
log "test 1: array of $shards shards x $runs_per_shard runs, then the merge job (afterok)"
t1=$SECONDS
submit "$W/run1" "$shards"
log "test 1: array job $array, merge job $merge"
wait_merge
check_tasks_completed "$shards"
log "test 1: array and merge done in $((SECONDS - t1)) s"
grep -q "^wrote $planned records" "$W/run1/logs/merge.$merge.log" ||
    fail "the merge log does not say it wrote $planned records: $(cat "$W/run1/logs/merge.$merge.log")"
grep -q "plan: $planned runs, 0 missing" "$W/run1/logs/merge.$merge.log" ||
    fail "the merge job's status does not report the plan complete"
compare "$W/run1/runs.jsonl" "$W/reference.jsonl"
log "test 1: PASSED (merged store = single-process build, run for run)"

# --- 6. tests 2 and 3: a task stopped in the middle of a run, then requeued -------------------
# test 2 (preemption): `scontrol requeue` on the running task, the requeue that PreemptMode=REQUEUE
#   and a node failure with --requeue also lead to (those two are not exercised): Slurm signals the builder (SIGTERM, then SIGKILL after
#   KillWait) and puts the task back in the queue; the merge job, still waiting on the array with
#   afterok, runs once the task has finished its second attempt.
# test 3 (crash): SIGKILL to the builder (scancel --batch --signal=KILL), as an OOM kill or a crash
#   would; the task ends FAILED and is requeued by hand. Slurm then never satisfies the first
#   merge's afterok on the whole array (its dependency reads afterok:<array>_*(failed)), so, as
#   docs/cluster.md says, a new merge is submitted after the requeued task (--merge-after).
kill_test() { # name mode(requeue|kill) out-dir
    local name=$1 mode=$2 out=$3 victim=1 t store deadline s kept slog first_merge
    store="$out/shards/runs.$victim.jsonl"
    t=$SECONDS
    submit "$out" "$shards"
    log "$name: array job $array, merge job $merge; task ${array}_$victim is stopped in a run by $mode"
    deadline=$((SECONDS + timeout))
    # Wait for the victim's first stored run: its second run is then in flight.
    until [ "$(records "$store")" -ge 1 ]; do
        ((SECONDS < deadline)) || fail "$name: shard $victim stored no run in $timeout s"
        sleep 0.05
    done
    s=$(state "${array}_$victim")
    [ "$s" = RUNNING ] || fail "$name: task ${array}_$victim is $s, not RUNNING, when it should be stopped"
    if [ "$mode" = requeue ]; then
        scontrol requeue "${array}_$victim" || fail "$name: scontrol requeue ${array}_$victim failed"
        # The attempt is gone once the store's lock (flock, as the builder takes it) is free.
        until flock -n "$store" true; do
            ((SECONDS < deadline)) || fail "$name: the first attempt of ${array}_$victim still holds its store"
            sleep 0.1
        done
        s=$(state "${array}_$victim")
        kept=$(records "$store")
        cp "$store" "$out/stopped.jsonl"
        log "$name: task ${array}_$victim requeued ($s) with $kept of $runs_per_shard runs stored"
    else
        # SIGKILL to the job's batch step only: the builder itself (build.sbatch execs it).
        scancel --batch --signal=KILL "${array}_$victim" || fail "$name: scancel --signal=KILL failed"
        until s=$(state "${array}_$victim"); [ "$s" != RUNNING ] && [ "$s" != COMPLETING ]; do
            ((SECONDS < deadline)) || fail "$name: task ${array}_$victim still $s after the kill"
            sleep 0.1
        done
        until flock -n "$store" true; do
            ((SECONDS < deadline)) || fail "$name: the killed builder of ${array}_$victim still holds its store"
            sleep 0.1
        done
        kept=$(records "$store")
        cp "$store" "$out/stopped.jsonl"
        log "$name: task ${array}_$victim killed ($s) with $kept of $runs_per_shard runs stored"
        [ "$s" = FAILED ] || fail "$name: the killed task is $s, not FAILED"
        scontrol requeue "${array}_$victim" || fail "$name: scontrol requeue ${array}_$victim failed"
        first_merge=$merge
        # Slurm 22.05 (Debian 12) remembers the failed attempt: the first merge's afterok on the
        # whole array is never satisfied. Then (as docs/cluster.md says) cancel it and submit a
        # merge after the requeued task. Should a Slurm run it after all, that is fine too.
        while :; do
            s=$(state "$first_merge")
            [ "$s" = COMPLETED ] && break
            [ "$(reason "$first_merge")" = DependencyNeverSatisfied ] && break
            case "$s" in PENDING | RUNNING | CONFIGURING | COMPLETING) ;; *) fail "$name: merge job $first_merge ended $s" ;; esac
            ((SECONDS < deadline)) || fail "$name: merge job $first_merge is still $s ($(reason "$first_merge"))"
            sleep 0.2
        done
        if [ "$s" = COMPLETED ]; then
            log "$name: requeued ${array}_$victim; merge job $first_merge ran after it"
        else
            scancel "$first_merge"
            merge=$(bash deploy/slurm/submit.sh --plan "$plan" --out "$out" --db "$db" \
                --merge-after "${array}_$victim" | awk '/^merge job/ {print $3}')
            [ -n "$merge" ] || fail "$name: submit.sh --merge-after printed no job id"
            log "$name: requeued ${array}_$victim; merge job $first_merge can never run (afterok on an array with a failed attempt): cancelled it, new merge job $merge after ${array}_$victim"
        fi
    fi
    ((kept >= 1 && kept < runs_per_shard)) || fail "$name: not stopped in the middle of the shard ($kept runs stored)"
    "$db" status "$out/stopped.jsonl" >"$out/stopped-status.txt" 2>&1 ||
        fail "$name: status cannot read the store the stopped attempt left"
    ! grep -q warning "$out/stopped-status.txt" ||
        fail "$name: the stopped attempt left corrupt lines: $(cat "$out/stopped-status.txt")"
    wait_merge
    check_tasks_completed "$shards"
    log "$name: array and merge done in $((SECONDS - t)) s"
    # The store kept every run written before the stop, byte for byte, and grew by the rest only.
    cmp -s "$out/stopped.jsonl" <(head -c "$(stat -c %s "$out/stopped.jsonl")" "$store") ||
        fail "$name: the runs stored before the stop were changed by the requeued attempt"
    slog="$out/logs/build.${array}_$victim.log"
    [ "$(grep -c "^metanas-db shard $victim/$shards" "$slog")" -eq 2 ] ||
        fail "$name: the log of task $victim does not show two attempts: $(cat "$slog")"
    grep -q "planned $runs_per_shard runs in shard $victim/$shards: $kept already stored, $((runs_per_shard - kept)) trained now (0 failed)" "$slog" ||
        fail "$name: the requeued attempt did not resume from its $kept stored runs: $(tail -3 "$slog")"
    compare "$out/runs.jsonl" "$W/reference.jsonl"
    log "$name: PASSED (the requeued task kept the $kept run(s) stored before the stop and trained only the other $((runs_per_shard - kept)): at most the run in flight was lost; the merged store is complete and equal to the reference)"
}
kill_test "test 2 (preemption)" requeue "$W/run2"
kill_test "test 3 (crash)" kill "$W/run3"

# --- 7. optional: scaling, 1 shard vs 2 shards -------------------------------------------------
# The same plan as an array of 1 task and of 2 tasks (1 CPU each), alternated, from sbatch to the
# merge job's end; `sum of runs` adds the records' own wall seconds (training time without Slurm).
if ((scaling)); then
    for rep in $(seq "${SLURM_TEST_SCALING_REPEATS:-2}"); do
        for n in 1 2; do
            start_ns=$(date +%s%N)
            load=$(cut -d' ' -f1 /proc/loadavg)
            submit "$W/scale$n.$rep" "$n"
            while s=$(state "$merge"); [ "$s" != COMPLETED ]; do
                case "$s" in PENDING | RUNNING | CONFIGURING | COMPLETING) ;; *) fail "scaling: merge job $merge ended $s" ;; esac
                sleep 0.1
            done
            wall_ms=$((($(date +%s%N) - start_ns) / 1000000))
            check_tasks_completed "$n"
            compare "$W/scale$n.$rep/runs.jsonl" "$W/reference.jsonl" >/dev/null
            sum=$(python3 -c "
import json,sys
rs=[json.loads(l) for l in open(sys.argv[1]).read().split('\n')[1:] if l]
print(f\"{sum(r['result']['wall_seconds'] for r in rs):.1f}\")" "$W/scale$n.$rep/runs.jsonl")
            echo "SCALING shards=$n repeat=$rep runs=$planned wall=$((wall_ms / 1000)).$(printf %03d $((wall_ms % 1000))) s runs_per_hour=$((planned * 3600000 / wall_ms)) sum_of_runs=$sum s load_before=$load"
        done
    done
fi

log "PASSED: all checks (total $((SECONDS - t0)) s; reference build $ref_seconds s)"
echo "slurm-test: 3 passed, 0 failed"
