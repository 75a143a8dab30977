#!/usr/bin/env bash
# A database shard on a lent machine's CPU cores (issue 13, item 7), in one device-tool call.
#
# The lent machines have no Rust toolchain and no network, so everything comes along in an
# ignored folder `devcarry/` (name it in the call's `carry`), made here first:
#   devcarry/mdb.xz             a stripped release `metanas-db` (strip, then xz: ~3 MB)
#   devcarry/done.jsonl.xz      the store's header line and its records of the groups to build
#                               (so only missing runs are built; a slice keeps the carry small)
#   devcarry/plan.json          the plan cut down to those groups: a builder opens every source
#                               of its plan, and the glyph, Fashion-MNIST and photo sources are
#                               not on the lent machine (keys stay those of the full plan)
#   devcarry/data.tar.xz        optional: the `.data` folders those groups read (e.g. mnist-json)
# The working tree travels too (64 MiB in all): set the zoo blobs and the v2 store aside for
# the call. Then, with the device tool:
#   run(command="DEVICE_GROUPS='test/mnist test/textures' bash scripts/device-build.sh",
#       carry=["devcarry"], timeout_s=540)
# Every core runs one builder (`--shard i/n`, RAYON_NUM_THREADS=1) until DEVICE_BUILD_S
# (default 420 s) have passed; whole records come back as $OUT/runs.jsonl (a record cut off by
# the deadline is dropped), to merge here with `metanas-db merge`. Records carry the machine's
# SIMD level (`cpu_simd`).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-./device-out}
C=${DEVICE_CARRY:-devcarry}
GROUP_LIST=${DEVICE_GROUPS:?name the plan groups to build, e.g. DEVICE_GROUPS="test/mnist"}
BUILD_S=${DEVICE_BUILD_S:-420}
PLAN=${DEVICE_PLAN:-$C/plan.json}
W=$(mktemp -d)
mkdir -p "$OUT"

xz -dc "$C/mdb.xz" >"$W/mdb" && chmod +x "$W/mdb" || { echo "device-build: no $C/mdb.xz" >&2; exit 1; }
xz -dc "$C/done.jsonl.xz" >"$W/done.jsonl" 2>/dev/null || : >"$W/done.jsonl"
if [ -f "$C/data.tar.xz" ]; then
    mkdir -p "$W/data" && tar -xJf "$C/data.tar.xz" -C "$W/data" && export METANAS_DATA=$W/data
fi
N=${DEVICE_WORKERS:-$(nproc)}
{
    echo "host: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo)"
    echo "groups: $GROUP_LIST; builders: $N; deadline: $BUILD_S s; done records: $(wc -l <"$W/done.jsonl")"
} | tee "$OUT/log.txt"

G=()
for g in $GROUP_LIST; do G+=(--groups "$g"); done
start=$SECONDS
for ((i = 0; i < N; i++)); do
    RAYON_NUM_THREADS=1 timeout "$BUILD_S" "$W/mdb" build --plan "$PLAN" --store "$W/s$i.jsonl" \
        --shard "$i/$N" --done "$W/done.jsonl" "${G[@]}" >"$W/log$i.txt" 2>&1 &
done
wait
echo "built for $((SECONDS - start)) s" | tee -a "$OUT/log.txt"
for ((i = 0; i < N; i++)); do echo "== builder $i: $(tail -n 1 "$W/log$i.txt")"; done >>"$OUT/log.txt"

# One store: the first header, then whole records only (a builder stopped by the deadline may
# have left half a line).
cat "$W"/s*.jsonl 2>/dev/null | python3 -c '
import json, sys
kept = cut = 0
header = False
for line in sys.stdin:
    try:
        value = json.loads(line)
    except ValueError:
        cut += 1
        continue
    if "format" in value:
        if header:
            continue
        header = True
        sys.stdout.write(line)
        continue
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    kept += 1
print(f"records: {kept} whole, {cut} cut off", file=sys.stderr)
' >"$OUT/runs.jsonl" 2>>"$OUT/log.txt"
tail -n 1 "$OUT/log.txt"
