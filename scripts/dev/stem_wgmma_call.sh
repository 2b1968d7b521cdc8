# Device command for the wgmma stem (branch stem-wgmma): the fused stem timed new (wgmma) vs old
# (mma.sync, stem.cu of 8b682e0 carried as tmp/stem_old.cu) vs sw128 (new with the weights in the
# 128-byte swizzle) vs new again, then the GPU stem tests on the new kernel, then Nsight Compute
# on the new and old stem kernels at batch 256 if ncu is there.
# Before (here): mkdir -p .whl tmp && cp /work/main/.whl/*.whl .whl/ &&
#   git show 8b682e0:ait/ops/stem/stem.cu > tmp/stem_old.cu
# Run: bash scripts/dev/stem_wgmma_call.sh   with carry [".whl", "tmp/stem_old.cu"]
# (NO_NCU=1 bash ... skips the Nsight Compute part)
case "${1:-}" in -h|--help) sed -n 1,8p "$0"; exit 0 ;; esac
test -f tmp/stem_old.cu || { echo "tmp/stem_old.cu missing (see the header)"; exit 2; }
source scripts/dev/device_prelude.sh env.log
cp ait/ops/stem/stem.cu tmp/stem_new.cu
sed 's/^#define AIT_STEM_B_SWIZZLE 0$/#define AIT_STEM_B_SWIZZLE 128/' tmp/stem_new.cu > tmp/stem_sw128.cu
grep -q '^#define AIT_STEM_B_SWIZZLE 128$' tmp/stem_sw128.cu || echo "sw128 variant: define not found"
bench() {  # $1 label, $2 stem.cu to use
  cp "$2" ait/ops/stem/stem.cu
  el "bench $1"
  timeout $(left 330) python3 scripts/dev/bench_stem.py --no-profile --batches 1 32 256 \
    --workdir tmp/bs_$1 2>&1 | grep -v '^\s*$' | tail -5 | tee -a $OUT/bench.log
}
bench new tmp/stem_new.cu
bench old tmp/stem_old.cu
bench sw128 tmp/stem_sw128.cu
bench new2 tmp/stem_new.cu
cp tmp/stem_new.cu ait/ops/stem/stem.cu
el tests
timeout $(left 520) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py -rA \
  > $OUT/pytest_stem.log 2>&1; grep -i "passed\|failed\|error" $OUT/pytest_stem.log | tail -12
if [ -z "${NO_NCU:-}" ] && command -v ncu > /dev/null && [ $(left 560) -gt 30 ]; then
  for v in new old; do
    [ $v = old ] && cp tmp/stem_old.cu ait/ops/stem/stem.cu
    el "ncu $v"
    timeout $(( $(left 590) / 2 )) ncu --kernel-name regex:stem_conv_pool --launch-skip 3 \
      --launch-count 1 --section SpeedOfLight --section ComputeWorkloadAnalysis \
      --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats \
      python3 scripts/dev/bench_stem.py --no-profile --batches 256 --workdir tmp/bs_$v \
      > $OUT/ncu_$v.txt 2>&1
    grep -i "Duration\|Throughput\|Shared\|Bank\|Issue Slots\|Stall\|Achieved Occ" \
      $OUT/ncu_$v.txt | head -24
  done
  cp tmp/stem_new.cu ait/ops/stem/stem.cu
fi
el end
