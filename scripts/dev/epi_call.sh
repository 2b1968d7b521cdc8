# gemm3x epilogue-tile variants (branch gemm3x-epi, AIT_GEMM3X_EPI_VARIANTS=1) against the default
# gemm3x tiles on ResNet-50's residual 1x1 convs (layers 1-4, batch 128 / 256, bias_add_relu, f32
# acc), through the compiler's profiler (scripts/dev/epi_bench.py). One device call, ~2-4 min:
#   run(command="bash scripts/dev/epi_call.sh [bias_relu]", carry=[".whl"], kind="nvidia-h200")
# (bias_relu: the bottlenecks' reducing 1x1 convs instead of the residual ones)
# $OUT: env.log, epi.log (everything), epi_table.txt, epi_results.json, nvcc.log (build failures).
set -o pipefail
OUT=${OUT:-$PWD/tmp/out}; mkdir -p "$OUT"
T0=$(date +%s); el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
source scripts/gpu_env.sh > $OUT/env.log 2>&1; rc=$?; cat $OUT/env.log
[ $rc -eq 0 ] || { el "gpu_env.sh failed ($rc)"; exit 1; }
export AIT_CACHE_DIR=$PWD/tmp/cache AIT_TEST_WORKDIR=$PWD/tmp/tests
# one kernel per TU: 10 Hopper TUs in parallel on 16 cores finish sooner than 5 pairs
export AIT_GEMM3X_EPI_VARIANTS=1 AIT_KERNELS_PER_TU=1
el "nproc $(nproc); epi_bench"
# progress bars (tqdm) dropped from the log; the profiler's own per-job timeouts still apply
EP=${1:-bias_add_relu}; TAG=$([ "$EP" = bias_add_relu ] || echo "_$EP")
timeout 220 python3 scripts/dev/epi_bench.py --out "$OUT" --batches 128,256 --epilogue "$EP" 2>&1 \
  | grep -v '/s\]\|/shape\]\|/op\]\|it/s' > $OUT/epi.log
rc=$?
el "epi_bench rc=$rc (124: timed out)"
grep -v '^\[epi_bench' $OUT/epi.log | grep -i "error\|fail\|wrong\|timeout\|crash" | head -20
grep -i "nvcc\|error:" $OUT/epi.log | head -40 > $OUT/nvcc.log
grep '^\[epi_bench\|kernel selection' $OUT/epi.log | tail -30
[ -f $OUT/epi_table$TAG.txt ] && cat $OUT/epi_table$TAG.txt
el end
exit $rc
