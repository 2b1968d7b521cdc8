# Session 12, device command C (carry [".whl"]; apply docs/results/h200-2026-12-02d/l2_prefetch.patch
# first: main has no AIT_L2_PREFETCH): the L2 prefetch of each op's constants. A cold
# ResNet-50 1..256 compile; the model timed with AIT_L2_PREFETCH=1 / 0 in turn twice, then with
# AIT_L2_PREFETCH_LEAD=1 and 3; the graph's CUPTI trace with the prefetch at batch 1 / 8; the GPU
# runtime tests of PDL and the prefetch; then, time allowing, ait and torch.compile in one run
# (README figures). Logs in $OUT/results.tgz. About 480 s.
case "${1:-}" in -h|--help) sed -n 1,6p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el "cold compile"; cold_compile tmp/w > $OUT/compile.log 2>&1; compile_summary $OUT/compile.log
for run in on1 off1 on2 off2; do
  v=1; [ "${run:0:3}" = off ] && v=0
  el "bench $run"; bench_ab AIT_L2_PREFETCH $run tmp/w $v
done
for lead in 1 3; do el "bench lead$lead"; bench_ab AIT_L2_PREFETCH_LEAD lead$lead tmp/w $lead; done
el "graph trace"
timeout 120 python3 scripts/dev/graph_trace.py --workdir tmp/w --batch-size 1,8 \
  --json $OUT/trace_prefetch.json > $OUT/trace_prefetch.log 2>&1; grep "^batch" $OUT/trace_prefetch.log
el "pytest runtime (prefetch, pdl)"
timeout $(left 400) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_runtime.py \
  -k "l2_prefetch or programmatic" -rA 2>&1 | q > $OUT/pytest_prefetch.log; echo "rc=$?"
tail -2 $OUT/pytest_prefetch.log
if [ $(left 590) -gt 190 ]; then
  el bench-ait
  timeout 60 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,8,32,128,256 \
    --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\] bs=\|L2 prefetch' | tail -6
  el bench-pt
  timeout $(left 590) python3 benchmark_pt.py --batch-size 1,8,32,128,256 \
    --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 \
    | grep '\[pt\] bs=' | tail -10
fi
rm -f $OUT/*.csv $OUT/*.csv.tmp
(cd $OUT && tar czf results.tgz --remove-files *.log *.json)
ls $OUT; el end
