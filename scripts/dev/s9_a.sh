# Session 9, device command A (carry [".whl"]): the stem's row kernel (stem_rows.cu). The stem
# alone in three builds (row kernel / tile kernel / unfused) at batch 1..256; the GPU stem tests
# (both kernels against numpy); a cold ResNet-50 1..256 compile (row kernel), the same graph with
# AIT_STEM_ROWS=0 (tile kernel; every other kernel from the cache), both timed in turn; per-op
# tables at batch 1 and 256; Nsight Compute on the row kernel at batch 256. About 500 s.
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el bench-stem
timeout 150 python3 scripts/dev/bench_stem.py --no-profile --batches 1 8 32 128 256 \
  --workdir tmp/bs 2>&1 | grep -v '^\s*$' | tail -8 | tee $OUT/bench_stem.log
el stem-tests
timeout 300 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py -rA \
  > $OUT/pytest_stem.log 2>&1
echo "pytest stem rc=$?"; grep -v "^PASSED" $OUT/pytest_stem.log | cut -c1-400 | tail -14
el compile-rows
cold_compile tmp/w > $OUT/compile_rows.log 2>&1; compile_summary $OUT/compile_rows.log
el compile-tile
AIT_STEM_ROWS=0 cold_compile tmp/w0 > $OUT/compile_tile.log 2>&1; compile_summary $OUT/compile_tile.log
bench() { bench_ab AIT_STEM_ROWS "$@"; }  # label, workdir, value
el bench-model
bench rows1 tmp/w 1; bench tile1 tmp/w0 0; bench rows2 tmp/w 1; bench tile2 tmp/w0 0
el ops
timeout 90 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops --all-ops \
  --no-caller-timing --results-dir $OUT --out-name ops_rows > $OUT/ops_rows.log 2>&1
grep "^sum\|bs=\|stem" $OUT/ops_rows.log | cut -c1-140
if command -v ncu > /dev/null && [ $(left 560) -gt 40 ]; then
  el ncu
  timeout $(left 590) ncu --kernel-name regex:stem_rows --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    --section Occupancy --section WarpStateStats python3 scripts/dev/bench_stem.py --no-profile \
    --builds rows --batches 256 --workdir tmp/bs > $OUT/ncu_rows.txt 2>&1
  grep -i "Duration\|Throughput\|Issue Slots\|Ipc\|Achieved Occ\|Warp Cycles" $OUT/ncu_rows.txt | head -16
fi
rm -f $OUT/*.csv
(cd $OUT && tar czf results.tgz --remove-files *.json compile_*.log 2>/dev/null)
ls $OUT; el end
