# Session 13, device command A (carry [".whl"]): the kernels' L2 prefetch of their weights
# before the grid-dependency wait (ait_prefetch.h). A cold ResNet-50 1..256 compile; the model
# with AIT_WEIGHT_PREFETCH=1 / 0 in turn twice (one .so: the switch is read when a batch
# size's launches are recorded); the graph's CUPTI trace at batch 1 / 8 with it on and off;
# the GPU runtime tests of the prefetch and PDL; then, time allowing, ait and torch.compile in
# one run (README figures). Logs in $OUT/results.tgz. About 540 s.
case "${1:-}" in -h|--help) sed -n 1,6p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el "cold compile"; cold_compile tmp/w > $OUT/compile.log 2>&1; compile_summary $OUT/compile.log
for run in on1 off1 on2 off2; do
  v=1; [ "${run:0:3}" = off ] && v=0
  el "bench $run"; bench_ab AIT_WEIGHT_PREFETCH $run tmp/w $v
done
for v in 1 0; do
  el "graph trace AIT_WEIGHT_PREFETCH=$v"
  AIT_WEIGHT_PREFETCH=$v timeout 100 python3 scripts/dev/graph_trace.py --workdir tmp/w \
    --batch-size 1,8 --json $OUT/trace_pf$v.json > $OUT/trace_pf$v.log 2>&1
  echo "rc=$?"; grep "^batch" $OUT/trace_pf$v.log
done
el "pytest runtime (prefetch, pdl)"
timeout $(left 400) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_runtime.py \
  -k "weight_prefetch or programmatic" -rA 2>&1 | q > $OUT/pytest_prefetch.log; echo "rc=$?"
tail -2 $OUT/pytest_prefetch.log
[ $(left 590) -gt 170 ] && same_run_bench tmp/w
pack_results
