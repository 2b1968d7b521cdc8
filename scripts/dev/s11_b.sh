# Session 11, device command B, run with docs/results/h200-2026-12-02c/rows3x3_form2.patch applied (carry [".whl", "tmp/conv3x3_rows_v1.cu"]): the 3x3 row conv's
# two forms alone at batch 256 (rows3x3_probe.py base / v1, twice), then Nsight Compute on each
# (speed of light, memory, warp states and scheduler, the stall sampling by source line for the
# second form). All logs in $OUT/results.tgz. About 200 s.
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el probe
for i in 1 2; do
  timeout 60 python3 scripts/dev/rows3x3_probe.py --batch 256 --variants base v1 mma \
    --v1 tmp/conv3x3_rows_v1.cu 2>&1 | grep -v "obj/s\]" | tee -a $OUT/probe.log
done
if command -v ncu > /dev/null; then
  for v in base v1; do
    el "ncu $v"
    extra=(); [ $v = base ] && extra=(--section SourceCounters)
    timeout $(left 560) ncu --kernel-name regex:conv3x3_rows --launch-skip 3 --launch-count 1 \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      --section WarpStateStats --section SchedulerStats "${extra[@]}" \
      --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_long_scoreboard \
      python3 scripts/dev/rows3x3_probe.py --batch 256 --iters 5 --variants $v \
      --v1 tmp/conv3x3_rows_v1.cu > $OUT/ncu_$v.txt 2>&1
    grep -i "Duration\|Throughput\|hmma\|wavefronts\|conflicts\|Warp Cycles\|Stall\|Issued Warp\|No Eligible" $OUT/ncu_$v.txt | head -26
  done
fi
(cd $OUT && tar czf results.tgz --remove-files *.txt *.log)
ls $OUT; el end
