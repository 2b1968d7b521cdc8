# Session 10, device command B (carry [".whl"]): why the strip-of-rows 3x3 conv runs at half its
# tensor rate: scripts/dev/rows3x3_probe.py's diagnostic variants at batch 256 and 32, then
# Nsight Compute on the kernel as it is and on its wgmma-only variant. About 200 s.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el probe
timeout 200 python3 scripts/dev/rows3x3_probe.py --batch 256 2>&1 | grep -v "obj/s\]" | tee $OUT/probe.log
timeout 60 python3 scripts/dev/rows3x3_probe.py --batch 32 --variants base mma 2>&1 | grep -v "obj/s\]" | tee -a $OUT/probe.log
if command -v ncu > /dev/null; then
  for v in base mma; do
    el "ncu $v"
    timeout $(left 560) ncu --kernel-name regex:conv3x3_rows --launch-skip 3 --launch-count 1 \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      --section WarpStateStats --section SchedulerStats \
      --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_long_scoreboard \
      python3 scripts/dev/rows3x3_probe.py --batch 256 --iters 5 --variants $v > $OUT/ncu_$v.txt 2>&1
    grep -i "Duration\|Throughput\|hmma\|wavefronts\|conflicts\|Warp Cycles\|Stall\|Issued Warp\|No Eligible" $OUT/ncu_$v.txt | head -24
  done
fi
ls $OUT; el end
