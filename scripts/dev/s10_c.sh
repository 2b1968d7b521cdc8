# Session 10, device command C (carry [".whl"]): the strip-of-rows 3x3 conv with turns at the
# tensor cores. The kernel alone (rows3x3_probe.py base / mma at batch 256 and 32), its GPU tests,
# a cold ResNet-50 1..256 compile and its profile table for the kernel, the same graph with
# AIT_ROWS3X3=0, both timed in turn twice (SM clock and power sampled during the first), the
# per-op table at batch 1 and 256. About 420 s.
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el probe
timeout 100 python3 scripts/dev/rows3x3_probe.py --batch 256 --variants base mma wg2 2>&1 | grep -v "obj/s\]" | tee $OUT/probe.log
timeout 60 python3 scripts/dev/rows3x3_probe.py --batch 32 --variants base 2>&1 | grep -v "obj/s\]" | tee -a $OUT/probe.log
el test_gpu_rows3x3
timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_rows3x3.py -rA -s \
  > $OUT/pytest_rows3x3.log 2>&1
echo "pytest rc=$?"; grep "rows3x3 \|passed\|failed\|rror" $OUT/pytest_rows3x3.log | grep -v "^PASSED" \
  | sed 's/ pad=(1, 1) stride=(1, 1) dilation=(1, 1)//' | cut -c1-220 | tail -12
el compile-rows
cold_compile tmp/w > $OUT/compile_rows.log 2>&1; compile_summary $OUT/compile_rows.log
python3 scripts/dev/splitk_table.py --match rows3x3 > $OUT/rows_table.txt 2>&1
sed 's/\[\["n", \([0-9]*\)\].*\]\]/n=\1/' $OUT/rows_table.txt | cut -c1-160
el compile-cutlass
AIT_ROWS3X3=0 cold_compile tmp/w0 > $OUT/compile_cutlass.log 2>&1; compile_summary $OUT/compile_cutlass.log
bench() { bench_ab AIT_ROWS3X3 "$@"; }  # label, workdir, value
el bench-model
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv -lms 500 > $OUT/clocks.csv &
SMI=$!
bench rows1 tmp/w 1; kill $SMI
bench cutlass1 tmp/w0 0; bench rows2 tmp/w 1; bench cutlass2 tmp/w0 0
el ops
timeout $(left 560) python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops \
  --all-ops --no-caller-timing --results-dir $OUT --out-name ops_rows > $OUT/ops_rows.log 2>&1
grep "^sum\|bs=\|conv2d_[269] " $OUT/ops_rows.log | cut -c1-150
rm -f $OUT/*.csv.tmp
(cd $OUT && tar czf results.tgz --remove-files *.json compile_*.log 2>/dev/null)
ls $OUT; el end
