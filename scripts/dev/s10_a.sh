# Session 10, device command A (carry [".whl"]): the strip-of-rows 3x3 conv
# (ait/ops/conv2d/conv3x3_rows.cu, candidate rows3x3.py). Its GPU tests (every epilogue against
# torch, odd shapes, refusals, the profiler with its times beside CUTLASS's); a cold ResNet-50
# 1..256 compile, its profile table for the kernel; the same graph with AIT_ROWS3X3=0; both
# timed in turn twice; the per-op table at batch 1 and 256; the graph traced at batch 1 and 256
# (scripts/dev/graph_trace.py: in-graph kernel times and gaps). About 480 s.
case "${1:-}" in -h|--help) sed -n 1,6p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el test_gpu_rows3x3
timeout 260 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_rows3x3.py -rA -s \
  > $OUT/pytest_rows3x3.log 2>&1
echo "pytest rc=$?"; grep "rows3x3 \|passed\|failed\|rror" $OUT/pytest_rows3x3.log | grep -v "^PASSED" \
  | cut -c1-260 | tail -24
el compile-rows
cold_compile tmp/w > $OUT/compile_rows.log 2>&1; compile_summary $OUT/compile_rows.log
python3 scripts/dev/splitk_table.py --match rows3x3 > $OUT/rows_table.txt 2>&1
cut -c1-220 $OUT/rows_table.txt
el compile-cutlass
AIT_ROWS3X3=0 cold_compile tmp/w0 > $OUT/compile_cutlass.log 2>&1; compile_summary $OUT/compile_cutlass.log
bench() { bench_ab AIT_ROWS3X3 "$@"; }  # label, workdir, value
el bench-model
bench rows1 tmp/w 1; bench cutlass1 tmp/w0 0; bench rows2 tmp/w 1; bench cutlass2 tmp/w0 0
el ops
timeout $(left 520) python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops \
  --all-ops --no-caller-timing --results-dir $OUT --out-name ops_rows > $OUT/ops_rows.log 2>&1
grep "^sum\|bs=\|conv2d_[269] \|rows3x3" $OUT/ops_rows.log | cut -c1-150
el trace
timeout $(left 590) python3 scripts/dev/graph_trace.py --workdir tmp/w --batch-size 1,256 \
  --json $OUT/trace.json > $OUT/trace.log 2>&1; grep "^batch\|rror" $OUT/trace.log
rm -f $OUT/*.csv
(cd $OUT && tar czf results.tgz --remove-files *.json compile_*.log 2>/dev/null)
ls $OUT; el end
