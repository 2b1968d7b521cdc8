# Session 17, device command A (carry [".whl"]): where batch 1's time goes inside the kernels.
# A cold ResNet-50 1..256 compile; Nsight Compute on one eager call at batch 1 (every kernel of
# it, after 3 warm-up calls: duration, speed of light, launch, occupancy, warp states); the
# same for batch 8's call. Kernels run one at a time under ncu (no early launch), so read the
# durations against graph_trace.py's. Logs in $OUT/results.tgz. About 400 s.
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el "cold compile"; cold_compile tmp/w > $OUT/compile.log 2>&1; compile_summary $OUT/compile.log
command -v ncu > /dev/null || { el "no ncu"; pack_results; exit 0; }
for bs in 1 8; do
  el "ncu batch $bs"
  kernels=$(AIT_PDL=1 timeout 120 python3 scripts/dev/graph_trace.py --workdir tmp/w \
    --batch-size $bs 2>/dev/null | sed -n 's/^batch [0-9]*: \([0-9]*\) kernels.*/\1/p')
  echo "kernels a call: ${kernels:=56}"
  timeout $(left 560) ncu --launch-skip $((3 * kernels)) --launch-count $kernels \
    --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
    python3 scripts/dev/run_model.py --workdir tmp/w --batch $bs > $OUT/ncu_b$bs.log 2>&1
  echo "rc=$?"; grep -c "Duration" $OUT/ncu_b$bs.log
done
pack_results
