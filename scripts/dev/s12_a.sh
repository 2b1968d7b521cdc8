# Session 12, device command A (carry [".whl"]): a cold ResNet-50 1..256 compile; the graph's
# CUPTI trace at batch 1 / 8 / 256 with programmatic launch on and off (AIT_PDL=0), against
# each op alone; the 3x3 row conv's GPU tests at main (its wait moved first). Logs in
# $OUT/results.tgz. About 300 s.
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el "cold compile"; cold_compile tmp/w > $OUT/compile.log 2>&1; compile_summary $OUT/compile.log
for pdl in 1 0; do
  el "graph trace AIT_PDL=$pdl"
  AIT_PDL=$pdl timeout $(left 400) python3 scripts/dev/graph_trace.py --workdir tmp/w \
    --batch-size 1,8,256 --json $OUT/trace_pdl$pdl.json > $OUT/trace_pdl$pdl.log 2>&1
  echo "rc=$?"; grep "^batch" $OUT/trace_pdl$pdl.log
done
el "pytest rows3x3"
timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_rows3x3.py -rA \
  2>&1 | q > $OUT/pytest_rows3x3.log; echo "rc=$?"; tail -2 $OUT/pytest_rows3x3.log
(cd $OUT && tar czf results.tgz --remove-files *.log *.json)
el end
