#!/usr/bin/env bash
# The CUDA checks of issue 21 in one call, on a machine with an NVIDIA GPU:
#   1. the parity suites (crates/metanas/tests/parity.rs, parity_ops.rs) on CUDA against flex,
#      with the wgpu tolerances, printing every worst difference;
#   2. the fused-backend report (Burn's fused `Cuda` type): does the wgpu fusion bug (wrong
#      one-query attention gradients) exist on CUDA?
#   3. training images/s of the protocol's network (examples/speed.rs `--case step`) at batch 64
#      and 512, CUDA beside the CPU (flex on all cores);
#   4. MetaD2A search latency, cold and warm, CUDA beside the CPU (examples/search_latency.rs,
#      on the embedded MNIST sample: the criterion bench needs MNIST data a bare machine lacks);
#   5. the database builder's runs/hour (`metanas-db build`, on a scratch plan of procedural
#      textures that needs no data, into scratch stores): the CPU with all cores, CUDA, and both
#      at once.
#
# Usage:
#   bash scripts/gpu-check.sh pack   # where cargo is (no GPU needed): build, strip and pack the
#                                    # binaries into target/gpu-check/carry/ (see below)
#   bash scripts/gpu-check.sh [run]  # on the GPU machine: check the GPU first (exit 2 without
#                                    # one), then run 1-5, writing under $OUT (default
#                                    # ./gpu-check-out) and printing a summary last
#   bash scripts/gpu-check.sh build  # build only (into target/gpu-check/bin), no pack
#   bash scripts/gpu-check.sh travel # what a device-tool call would send, against its 64 MiB
#   bash scripts/gpu-check.sh rehearse  # `run` without the GPU detection, to try the script
#                                    # on a machine without a GPU: the CUDA steps fail with
#                                    # the device module's message, the CPU ones run
#
# Why pack: the lent GPU machines (the `device` tool) have CUDA, PyTorch and python3 but, as far
# as their image's description goes, no Rust toolchain and no network, so the binaries are built
# here and carried. A release build of these five binaries with `--features cuda` from a clean
# target dir took 46 min here (2026-12-04: 2 cores shared with two niced database builders,
# load ~8; ../shared/burn-notes.md gives 3m10s for release flex alone on idle cores); after
# that, a change to our crates rebuilds in minutes. The target dir (1.4 GB) is far over the
# device tool's 64 MiB: carry only the pack (target/gpu-check/carry, 18 MB: five stripped
# binaries of ~35 MB, in one tar.xz so their shared code compresses once). `pack` and `travel`
# print what a call will send in all; the tree alone may already be over the limit (the model
# zoo's blobs and the run stores): then set the big data files aside for the call, as `travel`
# says (the check reads only this script, crates/model-zoo/data/v2/plan.json and
# crates/metanas/bundle/). Where cargo does exist on the
# GPU machine and no pack was carried, `run` builds there first.
#
# With the device tool (one call; the checks are bounded by GPU_CHECK_BUDGET_S, default 450 s,
# so timeout_s 540 covers them and the unpacking; the machine's start, a minute or two, comes
# on top, inside the session's 15 minutes of device time):
#   run(command="bash scripts/gpu-check.sh", carry=["target/gpu-check/carry"], timeout_s=540)
# It writes at most 7 files under $OUT (the tool returns 8): summary.md, env.txt,
# parity_ops.txt, parity.txt, speed.txt, search.txt, builder.txt.
#
# Settings (environment): GPU_CHECK_BUDGET_S (total seconds for the checks, default 450; a step
# that would start with too little left is skipped and says so), GPU_CHECK_STEPS (which steps,
# default "parity_ops parity speed search builder"), GPU_CHECK_BUILDER_S (seconds per builder
# configuration, default 30), GPU_CHECK_GPU_WORKERS (builder threads on the GPU, default 4),
# CUDARC_CUDA_VERSION (pack: the CUDA API the binaries are built against, default 13000 = 13.0,
# the lent machines' driver 580 and nvcc 13.0; cudarc loads libcuda and libnvrtc at run time).
set -uo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
TARGET=${GPU_CHECK_TARGET_DIR:-$REPO/target/gpu-check}
CARRY=$TARGET/carry
PACK=$CARRY/gpu-check-bin.tar.xz
BINS=(parity parity_ops speed search_latency metanas-db)

die() {
    echo "gpu-check: $*" >&2
    exit "${EXIT:-1}"
}

# ------------------------------------------------------------------------------------------
# Build (and pack) with cargo.

build() {
    command -v cargo >/dev/null || die "no cargo here: build where Rust is installed (\`bash scripts/gpu-check.sh pack\`) and carry $CARRY"
    export CARGO_TARGET_DIR=$TARGET
    export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
    # Small binaries: no debug info, symbols stripped (panics still print their messages).
    export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
    local features=metanas/cuda,model-zoo/cuda start=$SECONDS
    echo "gpu-check: building into $TARGET (CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION)"
    cargo build --release -p metanas -p model-zoo --features "$features" \
        --example speed --example search_latency --bin metanas-db ||
        die "cargo build failed"
    local tests
    tests=$(cargo test --release -p metanas -p model-zoo --features "$features" \
        --test parity --test parity_ops --no-run --message-format=json-render-diagnostics |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])
') || die "cargo test --no-run failed"
    rm -rf "$TARGET/bin" && mkdir -p "$TARGET/bin"
    cp "$TARGET/release/examples/speed" "$TARGET/release/examples/search_latency" \
        "$TARGET/release/metanas-db" "$TARGET/bin/" || die "a built binary is missing"
    while read -r name path; do cp "$path" "$TARGET/bin/$name"; done <<<"$tests"
    for b in "${BINS[@]}"; do [ -x "$TARGET/bin/$b" ] || die "$TARGET/bin/$b was not built"; done
    {
        echo "commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
        echo "built: $(date -u +%FT%TZ) on $(uname -n), rustc $(rustc --version 2>/dev/null | cut -d' ' -f2)"
        echo "CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION; features $features; release, stripped"
    } >"$TARGET/bin/MANIFEST"
    echo "gpu-check: built in $((SECONDS - start)) s:"
    ls -l "$TARGET/bin"
}

# What a device-tool call sends: the working tree (tracked and untracked-not-ignored files) and
# the carried pack, against the tool's 64 MiB.
travel() {
    local pack_bytes=0 tree_bytes limit=$((64 * 1024 * 1024))
    [ -f "$PACK" ] && pack_bytes=$(stat -c %s "$PACK")
    tree_bytes=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
    echo "gpu-check: a call sends the working tree (tracked and untracked-not-ignored files: $((tree_bytes / 1024)) KiB) and the pack ($((pack_bytes / 1024)) KiB): $(((tree_bytes + pack_bytes) / 1024)) KiB of the device tool's $((limit / 1024)) KiB"
    if ((tree_bytes + pack_bytes > limit)); then
        echo "gpu-check: WARNING: $(((tree_bytes + pack_bytes - limit) / 1024)) KiB over: the call would be refused. On the GPU machine the check reads only scripts/gpu-check.sh, crates/model-zoo/data/v2/plan.json, crates/metanas/bundle/ and the pack; the largest folders and files that travel:" >&2
        # By folder (a folder of many small files counts as one) and by file.
        git ls-files -co --exclude-standard -z | du -b --files0-from=- 2>/dev/null |
            awk '{n = split($2, p, "/"); d = p[1]; for (i = 2; i < n; i++) d = d "/" p[i];
                  s[d "/"] += $1; f[$2] = $1}
                 END {for (k in s) print s[k], k; for (k in f) print f[k], k}' |
            sort -rn | head -n 8 | awk '{printf "  %8d KiB  %s\n", $1 / 1024, $2}' >&2
        echo "gpu-check: set some aside for the call (move them out of the checkout, then back right after) - only files nobody is writing at the time" >&2
    fi
}

pack() {
    build
    mkdir -p "$CARRY"
    rm -f "$PACK"
    echo "gpu-check: packing (xz, one dictionary over all binaries: their shared code compresses once)"
    tar -C "$TARGET/bin" -cf - MANIFEST "${BINS[@]}" |
        xz -T1 --lzma2=preset=9,dict=128MiB >"$PACK" || die "packing failed"
    travel
    echo "gpu-check: then: run(command=\"bash scripts/gpu-check.sh\", carry=[\"target/gpu-check/carry\"], timeout_s=540)"
}

# ------------------------------------------------------------------------------------------
# The GPU machine: find the GPU, the driver, NVRTC and the CUDA headers; fail fast without.

prepend_ld_path() {
    case ":${LD_LIBRARY_PATH:-}:" in
    *":$1:"*) ;;
    *) export LD_LIBRARY_PATH="$1${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
}

# The first folder among the arguments holding a file matching the pattern $1.
first_dir_with() {
    local pattern=$1 dir
    shift
    for dir in "$@"; do
        if [ -d "$dir" ] && compgen -G "$dir/$pattern" >/dev/null; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

detect_gpu() {
    EXIT=2
    command -v nvidia-smi >/dev/null ||
        die "no nvidia-smi: this machine has no NVIDIA driver. Run this on a machine with an NVIDIA GPU (nothing was run)."
    local smi
    smi=$(timeout 30 nvidia-smi -L 2>&1) ||
        die "nvidia-smi failed, so no usable GPU here (nothing was run): $smi"
    grep -q '^GPU ' <<<"$smi" || die "nvidia-smi lists no GPU (nothing was run): $smi"
    echo "$smi"

    # cudarc dlopens the driver (libcuda.so.1) and NVRTC (libnvrtc.so[.N]) at run time.
    local nvcc_root="" py_nvidia=""
    if command -v nvcc >/dev/null; then
        nvcc_root=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
    fi
    py_nvidia=$(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d) for p in nvidia.__path__ for d in sorted(os.listdir(p))))' 2>/dev/null || true)
    local dir
    if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
        dir=$(first_dir_with 'libcuda.so.1' /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
            /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib) ||
            die "the NVIDIA driver library libcuda.so.1 was not found (ldconfig, /usr/local/nvidia/lib64)"
        prepend_ld_path "$dir"
    fi
    if ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so'; then
        # shellcheck disable=SC2086 # py_nvidia is a list of folders
        dir=$(first_dir_with 'libnvrtc.so*' ${CUDA_PATH:+$CUDA_PATH/lib64} "$nvcc_root/lib64" \
            "$nvcc_root/targets/x86_64-linux/lib" /usr/local/cuda/lib64 \
            /usr/local/cuda/targets/x86_64-linux/lib $(for d in $py_nvidia; do echo "$d/lib"; done)) ||
            die "NVRTC (libnvrtc.so) was not found: Burn's CUDA backend compiles its kernels with it"
        prepend_ld_path "$dir"
    fi
    # cubecl-cuda passes $CUDA_PATH/include (default /usr/local/cuda/include) to NVRTC.
    if [ -z "${CUDA_PATH:-}" ] || [ ! -f "$CUDA_PATH/include/cuda_fp16.h" ]; then
        local root
        for root in /usr/local/cuda "$nvcc_root" $py_nvidia; do
            if [ -n "$root" ] && [ -f "$root/include/cuda_fp16.h" ]; then
                export CUDA_PATH=$root
                break
            fi
        done
        [ -n "${CUDA_PATH:-}" ] && [ -f "$CUDA_PATH/include/cuda_fp16.h" ] ||
            die "no CUDA headers (cuda_fp16.h) under \$CUDA_PATH/include or /usr/local/cuda/include: NVRTC needs them"
    fi
    EXIT=1
}

# The binaries: the carried pack, else a build here.
find_binaries() {
    if [ -f "$PACK" ]; then
        BIN=$SCRATCH/bin
        mkdir -p "$BIN"
        if command -v xz >/dev/null; then
            xz -dc "$PACK" | tar -C "$BIN" -xf - || die "cannot unpack $PACK"
        else
            python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
                "$PACK" "$BIN" || die "cannot unpack $PACK"
        fi
        echo "binaries: $PACK"
    elif command -v cargo >/dev/null; then
        echo "binaries: no pack at $PACK; building here"
        build
        BIN=$TARGET/bin
    else
        die "no binaries: carry $CARRY (made by \`bash scripts/gpu-check.sh pack\` where cargo is); this machine has no cargo to build them"
    fi
    for b in "${BINS[@]}"; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing"; done
    sed 's/^/  /' "$BIN/MANIFEST"
}

# ------------------------------------------------------------------------------------------
# The checks. Each step writes one file under $OUT; the total is bounded by the budget.

left() { echo $((DEADLINE - SECONDS)); }

# step NAME CAP MIN: whether step NAME is selected and at least MIN s are left; sets LIMIT to
# min(CAP, what is left).
step() {
    local name=$1 cap=$2 min=$3
    case " $STEPS " in *" $name "*) ;; *) return 1 ;; esac
    if (($(left) < min)); then
        echo "skipped: $(left) s of the budget left, $min needed" >"$OUT/$name.txt"
        echo "== $name: skipped ($(left) s left of the budget)"
        return 1
    fi
    LIMIT=$((cap < $(left) ? cap : $(left)))
    echo "== $name (at most $LIMIT s; $(left) s of the budget left)"
}

# timed FILE LIMIT CMD...: runs CMD with a time limit, appending its output and status to FILE.
timed() {
    local file=$1 limit=$2 start=$SECONDS rc
    shift 2
    echo "\$ $*" >>"$file"
    timeout --kill-after=10 "$limit" "$@" >>"$file" 2>&1
    rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "[timed out after $limit s]" >>"$file"
    fi
    echo "[exit $rc after $((SECONDS - start)) s]" >>"$file"
    echo "   $(printf '%s ' "$@" | sed "s#${BIN:-/nonexistent}/##g")-> exit $rc, $((SECONDS - start)) s"
    return $rc
}

run_parity_ops() {
    step parity_ops 180 30 || return 0
    local f=$OUT/parity_ops.txt
    : >"$f"
    # Both tests: the unfused backend's gradients (asserted) and Burn's fused CUDA (reported).
    timed "$f" "$LIMIT" env METANAS_DEVICE=cuda "$BIN/parity_ops" --include-ignored --nocapture \
        --test-threads=1
}

run_parity() {
    step parity 240 30 || return 0
    local f=$OUT/parity.txt
    : >"$f"
    timed "$f" "$LIMIT" env METANAS_DEVICE=cuda "$BIN/parity" --nocapture
}

run_speed() {
    step speed 200 40 || return 0
    local f=$OUT/speed.txt device batch
    : >"$f"
    for device in cuda cpu; do
        for batch in 64 512; do
            (($(left) > 10)) || { echo "[skipped $device batch $batch: budget]" >>"$f"; continue; }
            timed "$f" "$((60 < $(left) ? 60 : $(left)))" "$BIN/speed" --device "$device" \
                --case step --batch "$batch" --reps 10 --json
        done
    done
}

run_search() {
    step search 200 40 || return 0
    local f=$OUT/search.txt device
    : >"$f"
    for device in cuda cpu; do
        (($(left) > 10)) || { echo "[skipped $device: budget]" >>"$f"; continue; }
        timed "$f" "$((120 < $(left) ? 120 : $(left)))" "$BIN/search_latency" --device "$device" \
            --reps 4 --json
    done
}

# builder_config NAME DEVICE WORKERS SECONDS: one time-boxed build into a scratch store.
builder_config() {
    local name=$1 device=$2 workers=$3 seconds=$4 f=$OUT/builder.txt
    echo "# $name: --device $device --workers $workers for $seconds s" >>"$f"
    echo "$name $device $workers $seconds $SCRATCH/$name.jsonl" >>"$SCRATCH/builder-configs"
    timeout --kill-after=10 "$seconds" "$BIN/metanas-db" build --plan "$SCRATCH/plan.json" \
        --store "$SCRATCH/$name.jsonl" --device "$device" --workers "$workers" \
        >>"$SCRATCH/$name.log" 2>&1
    local rc=$?
    if ((rc == 124)); then
        echo "[$name: stopped by its time box, as intended]" >>"$f"
    else
        echo "[$name: exit $rc before its time box: $(tail -n 1 "$SCRATCH/$name.log")]" >>"$f"
        echo "$(tail -n 1 "$SCRATCH/$name.log")" >"$SCRATCH/$name.failed"
    fi
}

run_builder() {
    local box=${GPU_CHECK_BUILDER_S:-30} gpu_workers=${GPU_CHECK_GPU_WORKERS:-4}
    step builder $((3 * box + 40)) $((3 * box + 15)) || return 0
    local f=$OUT/builder.txt cores
    cores=$(nproc)
    : >"$f"
    : >"$SCRATCH/builder-configs"
    # A scratch plan: the v2 plan's procedural-texture group (generated images, no data to
    # install), the shipped protocol. The stores are scratch files, never the committed data.
    python3 - "$REPO/crates/model-zoo/data/v2/plan.json" "$SCRATCH/plan.json" <<'EOF' >>"$f" 2>&1 || return 0
import json, sys
plan = json.load(open(sys.argv[1]))
plan["name"] = "gpu-check-scratch"
plan["groups"] = [g for g in plan["groups"] if g["name"] == "train/textures-10w50s16"]
assert plan["groups"], "group train/textures-10w50s16 not in the v2 plan"
json.dump(plan, open(sys.argv[2], "w"))
print("scratch plan: train/textures-10w50s16 of the v2 plan, protocol", plan["groups"][0]["protocol"])
EOF
    echo "   cpu: $cores workers, $box s"
    builder_config cpu cpu "$cores" "$box"
    echo "   cuda: $gpu_workers workers, $box s"
    builder_config cuda cuda "$gpu_workers" "$box"
    # All the machine: the GPU's workers plus the CPU on the remaining cores, at once.
    local rest=$((cores > gpu_workers ? cores - gpu_workers : 1))
    echo "   both: cuda $gpu_workers workers + cpu $rest workers, $box s"
    builder_config both-cuda cuda "$gpu_workers" "$box" &
    builder_config both-cpu cpu "$rest" "$box"
    wait
    for log in "$SCRATCH"/*.log; do
        echo "## $(basename "$log"): last lines" >>"$f"
        tail -n 5 "$log" >>"$f"
    done
    python3 - "$SCRATCH/builder-configs" <<'EOF' >>"$f" 2>&1
import json, os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, device, workers, seconds, store = line.split()
    failed = store[: -len(".jsonl")] + ".failed"
    if os.path.exists(failed):
        print(f"RESULT builder {name}: {device} x{workers} FAILED: {open(failed).read().strip()}")
        continue
    runs = []
    try:
        for text in open(store):
            try:
                r = json.loads(text)
            except ValueError:
                continue  # a line cut by the time box
            if "result" in r:
                runs.append(r["result"].get("wall_seconds"))
    except FileNotFoundError:
        pass
    walls = [w for w in runs if isinstance(w, (int, float))]
    med = statistics.median(walls) if walls else float("nan")
    rows[name] = (device, int(workers), int(seconds), len(runs), med)
    print(f"RESULT builder {name}: {device} x{workers}, {len(runs)} runs in {seconds} s = "
          f"{len(runs) * 3600 / int(seconds):.0f} runs/h (time box, startup included); median "
          f"run {med:.2f} s, so {int(workers) * 3600 / med if walls else float('nan'):.0f} runs/h steady")
if "both-cuda" in rows and "both-cpu" in rows:
    n = rows["both-cuda"][3] + rows["both-cpu"][3]
    print(f"RESULT builder both: {n} runs in {rows['both-cpu'][2]} s = "
          f"{n * 3600 / rows['both-cpu'][2]:.0f} runs/h (cuda and cpu at once)")
EOF
    # Do CUDA's runs agree with the CPU's on the runs both stores hold (seed noise as scale)?
    if [ -s "$SCRATCH/cpu.jsonl" ] && [ -s "$SCRATCH/cuda.jsonl" ]; then
        echo "## metanas-db compare cpu.jsonl cuda.jsonl" >>"$f"
        timeout 30 "$BIN/metanas-db" compare "$SCRATCH/cpu.jsonl" "$SCRATCH/cuda.jsonl" >>"$f" 2>&1
    fi
}

summary() {
    python3 - "$OUT" <<'EOF'
import json, os, re, sys
out = sys.argv[1]
def read(name):
    try:
        return open(os.path.join(out, name)).read()
    except FileNotFoundError:
        return ""
lines = ["# gpu-check summary", ""]
for suite in ("parity_ops", "parity"):
    text = read(suite + ".txt")
    if not text:
        continue
    if text.startswith("skipped"):
        lines.append(f"- {suite}: {text.strip()}")
        continue
    results = re.findall(r"^test result: .*$", text, re.M)
    failed = re.findall(r"^test (\S+) \.\.\. FAILED", text, re.M)
    pct = [(float(m.group(1)), m.group(0)) for m in re.finditer(r"([0-9.]+)% of (?:the tolerance|atol)", text)]
    worst = max(pct) if pct else None
    exit_line = re.findall(r"^\[exit .*\]$", text, re.M)
    lines.append(f"- {suite}: {results[-1] if results else 'no test result'} {exit_line[-1] if exit_line else ''}")
    if failed:
        lines.append(f"  - FAILED: {', '.join(failed)}")
    if worst:
        line = next(l for l in text.splitlines() if worst[1] in l)
        lines.append(f"  - closest to its tolerance ({worst[0]:.1f}%): `{line.strip()[:200]}`")
    seen = set()
    for l in text.splitlines():
        if l.startswith("fused cuda:") or l.startswith("parity suites:") or l.startswith("fused CUDA report:"):
            if l not in seen:
                seen.add(l)
                lines.append(f"  - `{l.strip()[:200]}`")
    panics = sum("panicked at" in l for l in text.splitlines())
    if panics:
        lines.append(f"  - {panics} test thread(s) panicked: see {suite}.txt")
speed = [json.loads(l) for l in read("speed.txt").splitlines() if l.startswith("{")]
if speed:
    lines += ["", "| step (images/s) | batch | cpu | cuda | cuda / cpu |", "|---|---|---|---|---|"]
    by = {}
    # speed.txt alternates "$ command" and JSON lines: pair each JSON with its command's device.
    device = None
    for l in read("speed.txt").splitlines():
        if l.startswith("$ "):
            d = re.search(r"--device (\S+)", l); b = re.search(r"--batch (\d+)", l)
            device = (d.group(1), int(b.group(1))) if d and b else None
        elif l.startswith("{") and device:
            by[device] = json.loads(l)["per_s"]
    for batch in (64, 512):
        c, g = by.get(("cpu", batch)), by.get(("cuda", batch))
        fmt = lambda v: f"{v:,.0f}" if v else "-"
        lines.append(f"| step | {batch} | {fmt(c)} | {fmt(g)} | {g / c:.2f}x |" if c and g else f"| step | {batch} | {fmt(c)} | {fmt(g)} | - |")
search = [json.loads(l) for l in read("search.txt").splitlines() if l.startswith("{")]
if search:
    lines += ["", "| search latency (s) | device | cold | warm |", "|---|---|---|---|"]
    for s in search:
        for k in ("features", "search", "exhaustive"):
            w = s.get(f"{k}_warm_s")
            lines.append(f"| {k} | {s['device']} | {s[f'{k}_cold_s']:.3f} | {w:.3f} |" if w is not None else f"| {k} | {s['device']} | {s[f'{k}_cold_s']:.3f} | - |")
builder = [l for l in read("builder.txt").splitlines() if l.startswith("RESULT builder")]
if builder:
    lines += [""] + [f"- {l[len('RESULT '):]}" for l in builder]
for name in ("speed", "search", "builder"):
    t = read(name + ".txt")
    if t.startswith("skipped"):
        lines.append(f"- {name}: {t.strip()}")
text = "\n".join(lines) + "\n"
open(os.path.join(out, "summary.md"), "w").write(text)
print(text)
EOF
}

run_checks() {
    STEPS=${GPU_CHECK_STEPS:-parity_ops parity speed search builder}
    local budget=${GPU_CHECK_BUDGET_S:-450}
    echo "== GPU"
    if [ "${1:-}" = rehearse ]; then
        echo "rehearsal: no GPU detection; the CUDA commands will fail (clearly), the CPU ones run"
    else
        detect_gpu
    fi
    OUT=${OUT:-$REPO/gpu-check-out}
    mkdir -p "$OUT"
    SCRATCH=$(mktemp -d /tmp/gpu-check.XXXXXX)
    trap 'rm -rf "$SCRATCH"' EXIT
    {
        echo "date: $(date -u +%FT%TZ); $(uname -srm); $(nproc) cores; $(free -g | awk '/^Mem:/ {print $2 " GiB"}') memory"
        timeout 30 nvidia-smi
        timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
        echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
        echo "CUDA_PATH=${CUDA_PATH:-}"
        ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvrtc\.so'
        command -v nvcc >/dev/null && nvcc --version | tail -2
    } >"$OUT/env.txt" 2>&1
    sed -n '1,20p' "$OUT/env.txt"
    echo "== binaries"
    find_binaries
    sed 's/^/binary /' "$BIN/MANIFEST" >>"$OUT/env.txt"

    # The budget counts from here (a build above is not part of it).
    DEADLINE=$((SECONDS + budget))
    echo "== checks: $STEPS (budget $budget s)"
    run_parity_ops
    run_parity
    run_speed
    run_search
    run_builder
    echo "== summary ($((budget - $(left))) s of $budget)"
    summary
    echo "files: $(cd "$OUT" && ls | tr '\n' ' ')"
}

case "${1:-run}" in
pack) pack ;;
build) build ;;
run) run_checks ;;
travel) travel ;;
rehearse) run_checks rehearse ;;
-h | --help | help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
*) die "unknown mode \`$1\`: pack, build or run (see --help)" ;;
esac
