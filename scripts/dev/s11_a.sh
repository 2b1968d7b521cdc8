# Session 11, device command A, run with docs/results/h200-2026-12-02c/rows3x3_form2.patch applied (carry [".whl", "tmp/conv3x3_rows_v1.cu"]; the latter is the 3x3
# row conv as of b53dcde): the row conv's second form (the next patch in flight during the
# epilogue, chunked staging) alone against the first (rows3x3_probe.py base / v1 / mma at batch
# 256, 128, 32); its GPU tests; a cold ResNet-50 1..256 compile and its profile table for the
# kernel, the same graph with AIT_ROWS3X3=0, both timed in turn twice; per-op table at 256.
# About 450 s.
case "${1:-}" in -h|--help) sed -n 1,6p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el probe
timeout 100 python3 scripts/dev/rows3x3_probe.py --batch 256 --variants base v1 mma \
  --v1 tmp/conv3x3_rows_v1.cu 2>&1 | grep -v "obj/s\]" | tee $OUT/probe.log
for b in 256 128 32; do  # (256 again: the spread between runs)
  timeout 60 python3 scripts/dev/rows3x3_probe.py --batch $b --variants base v1 \
    --v1 tmp/conv3x3_rows_v1.cu 2>&1 | grep -v "obj/s\]" | tee -a $OUT/probe.log
done
el test_gpu_rows3x3
timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_rows3x3.py -rA -s \
  > $OUT/pytest_rows3x3.log 2>&1
echo "pytest rc=$?"; grep "rows3x3 \|passed\|failed\|rror" $OUT/pytest_rows3x3.log | grep -v "^PASSED" \
  | sed 's/ pad=(1, 1) stride=(1, 1) dilation=(1, 1)//' | cut -c1-220 | tail -14
el compile-rows
cold_compile tmp/w > $OUT/compile_rows.log 2>&1; compile_summary $OUT/compile_rows.log
python3 scripts/dev/splitk_table.py --match rows3x3 > $OUT/rows_table.txt 2>&1
sed 's/\[\["n", \([0-9]*\)\].*\]\]/n=\1/' $OUT/rows_table.txt | cut -c1-160
el compile-cutlass
AIT_ROWS3X3=0 cold_compile tmp/w0 > $OUT/compile_cutlass.log 2>&1; compile_summary $OUT/compile_cutlass.log
bench() { bench_ab AIT_ROWS3X3 "$@"; }  # label, workdir, value
el bench-model
bench rows1 tmp/w 1; bench cutlass1 tmp/w0 0; bench rows2 tmp/w 1; bench cutlass2 tmp/w0 0
el ops
timeout $(left 570) python3 benchmark_ait.py --workdir tmp/w --batch-size 256 --profile-ops \
  --all-ops --no-caller-timing --results-dir $OUT --out-name ops_rows > $OUT/ops_rows.log 2>&1
grep "^sum\|bs=\|conv2d_[269] " $OUT/ops_rows.log | cut -c1-150
rm -f $OUT/*.csv $OUT/*.csv.tmp
ls $OUT; el end
