# Session 11, device command C (carry [".whl"]): cold ResNet-50 1..256 compiles, each with its
# own fresh cache, with 4 (the default) and 3 kernels a translation unit (AIT_KERNELS_PER_TU),
# in the order 4, 3, 3, 4 on one machine; then ait (the first build) and torch.compile in one
# run at batch 1, 8, 32, 128, 256 (README figures). All logs in $OUT/results.tgz. About 450 s.
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
for run in 4a 3a 3b 4b; do
  el "compile per_tu=${run:0:1} ($run)"
  AIT_KERNELS_PER_TU=${run:0:1} AIT_CACHE_DIR=$PWD/tmp/cache_$run cold_compile tmp/w_$run \
    > $OUT/compile_tu$run.log 2>&1
  compile_summary $OUT/compile_tu$run.log | grep "profilers:\|done at\|wall" | cut -c1-230
done
el bench-ait
AIT_CACHE_DIR=$PWD/tmp/cache_4a timeout 200 python3 benchmark_ait.py --workdir tmp/w_4a \
  --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 \
  | grep '\[ait\] bs=\|compiled' | tail -6
el bench-pt
timeout $(left 590) python3 benchmark_pt.py --batch-size 1,8,32,128,256 \
  --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 \
  | grep '\[pt\] bs=' | tail -10
rm -f $OUT/*.csv $OUT/*.csv.tmp
(cd $OUT && tar czf results.tgz --remove-files *.log *.json)
ls $OUT; el end
