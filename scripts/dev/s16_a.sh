# Session 16, device command A (carry [".whl", "tmp/old_tree"]): a cold ResNet-50 1..256
# compile with the prefetch switch read at model creation (args' `prefetch`); its profile cache
# kept for the candidate-wins analysis of issue 11; the same model built from the files of
# tmp/old_tree over this tree (the stem row kernel and the GEMV before their load changes, from
# fbcc766: every other object cached) and both timed in turn twice; the graph's CUPTI trace at
# batch 1 / 8 of each; then ait and torch.compile in one run (README figures). Logs in
# $OUT/results.tgz. About 420 s.
case "${1:-}" in -h|--help) sed -n 1,7p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el "cold compile"; cold_compile tmp/w > $OUT/compile.log 2>&1; compile_summary $OUT/compile.log
cp tmp/cache/profile.sqlite $OUT/profile.sqlite 2>/dev/null || ls tmp/cache
el "old tree"
rm -rf /tmp/old && mkdir /tmp/old && cp -r ait modeling weight_utils.py benchmark_ait.py \
  bench_utils.py /tmp/old/ && cp -r tmp/old_tree/. /tmp/old/
( cd /tmp/old && PYTHONPATH=/tmp/site:/tmp/old cold_compile w ) > $OUT/compile_old.log 2>&1
compile_summary $OUT/compile_old.log
# the old tree's .so is timed from that tree: the new one would rebuild its stem
in_old() { ( cd /tmp/old && PYTHONPATH=/tmp/site:/tmp/old "$@" ); }
for run in new1 old1 new2 old2; do
  el "bench $run"
  if [ "${run:0:3}" = old ]; then in_old bench_ab AIT_WEIGHT_PREFETCH $run w 1
  else bench_ab AIT_WEIGHT_PREFETCH $run tmp/w 1; fi
done
el "graph trace"
timeout 100 python3 scripts/dev/graph_trace.py --workdir tmp/w --batch-size 1,8 \
  --json $OUT/trace.json > $OUT/trace.log 2>&1; echo "rc=$?"; grep "^batch\|stem" $OUT/trace.log | head -6
cp scripts/dev/graph_trace.py scripts/dev/run_model.py /tmp/old/
in_old timeout 100 python3 graph_trace.py --workdir w --batch-size 1,8 \
  --json $OUT/trace_old.json > $OUT/trace_old.log 2>&1; echo "rc=$?"; grep "^batch\|stem" $OUT/trace_old.log | head -6
[ $(left 590) -gt 170 ] && same_run_bench tmp/w
pack_results
