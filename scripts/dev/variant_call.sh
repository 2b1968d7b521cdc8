# A kernel family's experimental variants against its default tiles on ResNet-50's convs at
# batch 128 and 256, through the compiler's profiler (scripts/dev/variant_bench.py), for each
# CONVS in turn (residual | reduce | 3x3). One device call, ~2-4 min per CONVS:
#   run(command="bash scripts/dev/variant_call.sh cluster residual 3x3", carry=[".whl"])
# VARIANTS: epi (the gemm3x epilogue subtiles) or cluster (2x1 / 1x2 clusters).
# $OUT: env.log, VARIANTS_CONVS.log (everything), VARIANTS_table_CONVS.txt,
# VARIANTS_results_CONVS.json, nvcc_CONVS.log (build failures).
case "${1:-}" in ""|-h|--help) sed -n 1,7p "$0"; exit 0 ;; esac
VARIANTS=$1; shift
source scripts/dev/device_prelude.sh
# one kernel per TU: many Hopper TUs in parallel on 16 cores finish sooner than pairs
export AIT_KERNELS_PER_TU=1 PYTHONUNBUFFERED=1
rc=0
for CONVS in "${@:-residual}"; do
  LOG=$OUT/${VARIANTS}_$CONVS.log
  el "nproc $(nproc); variant_bench $VARIANTS $CONVS"
  # progress bars (tqdm) dropped from the log; the profiler's own per-job timeouts still apply
  timeout $(left ${DEADLINE:-580}) python3 scripts/dev/variant_bench.py --out "$OUT" \
    --batches 128,256 --variants "$VARIANTS" --convs "$CONVS" 2>&1 | q > "$LOG"
  r=$?; [ $r = 0 ] || rc=$r
  el "variant_bench $CONVS rc=$r (124: timed out)"
  grep -v '^\[variant_bench' "$LOG" | grep -i "error\|fail\|wrong\|timeout\|crash" | head -20
  grep -i "nvcc\|error:" "$LOG" | head -40 > "$OUT/nvcc_$CONVS.log"
  grep '^\[variant_bench\|kernel selection' "$LOG" | tail -8
  [ -f "$OUT/${VARIANTS}_table_$CONVS.txt" ] && cat "$OUT/${VARIANTS}_table_$CONVS.txt"
done
el end
exit $rc
