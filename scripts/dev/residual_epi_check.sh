# Device command for branch residual-epi (carry [".whl", "tmp/main_tree.tar"], the tar made
# here by `git archive -o tmp/main_tree.tar main`): a cold ResNet-50 1..256 compile of this
# tree, the model GPU tests on it, then main's tree built on the same cache (only the
# residual kernels differ and are profiled apart; every other op's choice is shared), both
# models timed in turn twice, per-op tables at batch 256. About 420 s.
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -f tmp/main_tree.tar ] || { echo "tmp/main_tree.tar missing: git archive -o tmp/main_tree.tar main"; exit 3; }
el "compile (residual-epi)"
cold_compile tmp/w_epi > $OUT/compile_epi.log 2>&1
grep 'profilers:\|selection:\|profiling:\|wall\|compiled resnet\|rror' $OUT/compile_epi.log | cut -c1-300 | tail -6
el tests
timeout $(left 260) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -x -rA 2>&1 | q > $OUT/pytest_resnet.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet.log | grep -v "^PASSED" | tail -6
mkdir -p tmp/A && tar -xf tmp/main_tree.tar -C tmp/A
el "compile (main, same cache)"
(cd tmp/A && cold_compile $OLDPWD/tmp/w_main > $OUT/compile_main.log 2>&1); grep 'wall' $OUT/compile_main.log
for i in 1 2; do
  timeout 60 python3 benchmark_ait.py --workdir tmp/w_epi --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ab_epi_$i 2>&1 | grep 'bs=' | sed "s/^/epi  /"
  (cd tmp/A && timeout 60 python3 benchmark_ait.py --workdir $OLDPWD/tmp/w_main --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ab_main_$i 2>&1 | grep 'bs=' | sed "s/^/main /")
done
el ops
timeout $(left 590) python3 benchmark_ait.py --workdir tmp/w_epi --batch-size 256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops_epi > $OUT/ops_epi.log 2>&1; grep "^sum" $OUT/ops_epi.log
rm -f $OUT/*.csv; ls $OUT; el end
