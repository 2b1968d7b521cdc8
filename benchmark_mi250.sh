#!/usr/bin/env bash
# Data-parallel ait benchmark: one benchmark_ait.py process per device, each on BATCH/NDEV
# images, as upstream's benchmark_mi250.sh (2 GCDs of an MI250); works on NVIDIA GPUs too.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: benchmark_mi250.sh [-h|--help] BATCH [NDEV] [-- BENCHMARK_AIT_ARGS...]

Data-parallel benchmark of ait: compiles the model once, then starts one benchmark_ait.py per
device with BATCH/NDEV images each (BATCH must be divisible by NDEV), waits for all, and prints
the per-device latency and the aggregate QPS.

  BATCH   total batch size over all devices
  NDEV    number of devices (default: 2)
  --      everything after it goes to benchmark_ait.py (e.g. -- --use-fp16-acc --no-graph)

Each process sees one device through HIP_VISIBLE_DEVICES on ROCm (rocm-smi or hipcc found and
no nvidia-smi) or CUDA_VISIBLE_DEVICES on NVIDIA. If that variable is already set, its first
NDEV entries are used; otherwise devices 0..NDEV-1.

Environment:
  PYTHON       interpreter (default: the project's .venv/bin/python when it exists,
               else python3)
  RESULTS_DIR  results root (default: ./results); this run writes
               RESULTS_DIR/dp_b<BATCH>_x<NDEV>/{dev<i>.json,dev<i>.log,summary.json}
  DP_PLATFORM  force 'rocm' or 'cuda' instead of detecting it
  BENCH_AIT    benchmark script (default: benchmark_ait.py beside this script)

Aggregate QPS = BATCH / slowest device's latency (upstream's convention); the sum of the
per-device QPS is printed too.
EOF
}

die() {
    echo "benchmark_mi250.sh: error: $*" >&2
    exit 2
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") usage >&2; die "missing BATCH" ;;
esac

BATCH=$1
shift
NDEV=2
if [[ $# -gt 0 && $1 != "--" ]]; then
    NDEV=$1
    shift
fi
if [[ $# -gt 0 ]]; then
    [[ $1 == "--" ]] || die "unexpected argument '$1' (benchmark_ait.py options go after --)"
    shift
fi
EXTRA=("$@")

[[ $BATCH =~ ^[1-9][0-9]*$ ]] || die "BATCH must be a positive integer, got '$BATCH'"
[[ $NDEV =~ ^[1-9][0-9]*$ ]] || die "NDEV must be a positive integer, got '$NDEV'"
(( BATCH % NDEV == 0 )) || die "BATCH $BATCH is not divisible by NDEV $NDEV"
PER=$(( BATCH / NDEV ))

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z ${PYTHON:-} ]]; then
    VENV=${AIT_VENV:-.venv}
    [[ $VENV == /* ]] || VENV=$SCRIPT_DIR/$VENV
    VENV_PY=$VENV/bin/python
    if [[ -x $VENV_PY ]]; then PYTHON=$VENV_PY; else PYTHON=python3; fi
fi
BENCH_AIT=${BENCH_AIT:-$SCRIPT_DIR/benchmark_ait.py}
RESULTS_DIR=${RESULTS_DIR:-results}
[[ -f $BENCH_AIT ]] || die "benchmark script not found: $BENCH_AIT"

# Which variable hides the other devices from each process. A CUDA machine with hipcc lying
# around must not get HIP_VISIBLE_DEVICES (every process would then share device 0).
PLATFORM=${DP_PLATFORM:-}
if [[ -z $PLATFORM ]]; then
    if ! command -v nvidia-smi >/dev/null 2>&1 \
        && { command -v rocm-smi >/dev/null 2>&1 || command -v hipcc >/dev/null 2>&1; }; then
        PLATFORM=rocm
    else
        PLATFORM=cuda
    fi
fi
case $PLATFORM in
    rocm) VISIBLE_VAR=HIP_VISIBLE_DEVICES ;;
    cuda) VISIBLE_VAR=CUDA_VISIBLE_DEVICES ;;
    *) die "DP_PLATFORM must be 'rocm' or 'cuda', got '$PLATFORM'" ;;
esac

DEVICES=()
if [[ -n ${!VISIBLE_VAR:-} ]]; then
    IFS=, read -r -a DEVICES <<< "${!VISIBLE_VAR}"
    (( ${#DEVICES[@]} >= NDEV )) \
        || die "$VISIBLE_VAR=${!VISIBLE_VAR} lists ${#DEVICES[@]} device(s), NDEV is $NDEV"
else
    if [[ $PLATFORM == cuda ]] && command -v nvidia-smi >/dev/null 2>&1; then
        NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
        (( NGPU >= NDEV )) || die "NDEV is $NDEV but nvidia-smi lists $NGPU GPU(s)"
    fi
    for (( i = 0; i < NDEV; i++ )); do DEVICES+=("$i"); done
fi

OUT_DIR=$RESULTS_DIR/dp_b${BATCH}_x${NDEV}
SYNC_DIR=$OUT_DIR/sync
mkdir -p "$OUT_DIR"
rm -rf "$SYNC_DIR"
rm -f "$OUT_DIR"/dev*.json "$OUT_DIR"/dev*.csv "$OUT_DIR"/dev*.log "$OUT_DIR"/summary.json

echo "[dp] $PLATFORM: batch $BATCH over $NDEV device(s) (${DEVICES[*]:0:NDEV}), $PER each"
echo "[dp] building once on device ${DEVICES[0]}"
if ! env "$VISIBLE_VAR=${DEVICES[0]}" "$PYTHON" "$BENCH_AIT" --batch-size "$PER" --compile-only \
    ${EXTRA[@]+"${EXTRA[@]}"}; then
    echo "benchmark_mi250.sh: error: compilation failed (benchmark_ait.py --compile-only)" >&2
    exit 1
fi

PIDS=()
cleanup() {
    local pid
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do
        kill "$pid" 2>/dev/null || true
    done
}
trap 'cleanup; exit 130' INT TERM

for (( i = 0; i < NDEV; i++ )); do
    env "$VISIBLE_VAR=${DEVICES[i]}" "$PYTHON" "$BENCH_AIT" --batch-size "$PER" \
        --results-dir "$OUT_DIR" --out-name "dev$i" \
        --sync-dir "$SYNC_DIR" --sync-count "$NDEV" \
        ${EXTRA[@]+"${EXTRA[@]}"} > "$OUT_DIR/dev$i.log" 2>&1 &
    PIDS+=("$!")
    echo "[dp] device ${DEVICES[i]}: pid $!, log $OUT_DIR/dev$i.log"
done

# Poll rather than wait in order: if one process fails, the others would otherwise sit at the
# start barrier until it times out. After a failure the others are stopped, not counted.
FAILED=()
STOPPED=0
declare -A EXIT_CODE=()
while (( ${#EXIT_CODE[@]} < NDEV )); do
    for (( i = 0; i < NDEV; i++ )); do
        [[ -n ${EXIT_CODE[$i]:-} ]] && continue
        if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
            rc=0
            wait "${PIDS[i]}" || rc=$?
            EXIT_CODE[$i]=$rc
            if (( rc != 0 && ${#FAILED[@]} == 0 )); then
                FAILED+=("$i")
                cleanup
            elif (( rc != 0 )); then
                STOPPED=$(( STOPPED + 1 ))
            fi
        fi
    done
    if (( ${#EXIT_CODE[@]} < NDEV )); then
        sleep 0.2
    fi
done
trap - INT TERM

if (( ${#FAILED[@]} > 0 )); then
    i=${FAILED[0]}
    echo "---- device ${DEVICES[i]} (dev$i.log, exit ${EXIT_CODE[$i]}), last lines:" >&2
    tail -n 15 "$OUT_DIR/dev$i.log" >&2 || true
    echo "benchmark_mi250.sh: error: the process on device ${DEVICES[i]} failed" \
        "(exit ${EXIT_CODE[$i]}, log $OUT_DIR/dev$i.log); stopped $STOPPED other(s)" >&2
    exit 1
fi

"$PYTHON" - "$OUT_DIR" "$BATCH" "$NDEV" "$PER" "$VISIBLE_VAR" "${DEVICES[@]:0:NDEV}" <<'PY'
import json
import sys
from pathlib import Path

out_dir, batch, ndev, per, var = Path(sys.argv[1]), *map(int, sys.argv[2:5]), sys.argv[5]
devices = sys.argv[6:]
per_device = []
for i in range(ndev):
    path = out_dir / f"dev{i}.json"
    try:
        doc = json.loads(path.read_text())
        row = next(r for r in doc["rows"] if r["batch_size"] == per and not r.get("error"))
        latency = float(row["latency_ms"])
    except (OSError, ValueError, KeyError, StopIteration, TypeError) as exc:
        sys.exit(f"benchmark_mi250.sh: error: no batch-{per} result in {path} ({exc!r})")
    per_device.append({"device": devices[i], "latency_ms": latency,
                       "qps": per * 1e3 / latency, "variant": row.get("variant")})
slowest = max(d["latency_ms"] for d in per_device)
summary = {
    "batch_size": batch, "devices": ndev, "per_device_batch": per, "visible_var": var,
    "per_device": per_device, "latency_ms": slowest,
    "aggregate_qps": batch * 1e3 / slowest,
    "sum_device_qps": sum(d["qps"] for d in per_device),
}
(out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"| Device | Batch | Latency (ms) | QPS (im/s) |")
print(f"|--------|-------|--------------|------------|")
for d in per_device:
    print(f"| {d['device']:<6} | {per:<5} | {d['latency_ms']:12.3f} | {d['qps']:10.2f} |")
print(f"[dp] batch {batch} on {ndev} devices: latency {slowest:.3f} ms (slowest device), "
      f"aggregate QPS {summary['aggregate_qps']:.2f} im/s "
      f"(sum of per-device QPS {summary['sum_device_qps']:.2f})")
print(f"[dp] wrote {out_dir / 'summary.json'}")
PY
