# Device command of the 2026-12-01 (second) session, kept for the results in docs/results/h200-2026-12-01b.
# Run on the GPU machine from the repository root with .whl and tmp/dev carried (see the README there).
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh compile.log
el compile
cold_compile tmp/tests | grep -v 'rejected\|left out' | tail -12 | tee -a $OUT/compile.log
cp $AIT_CACHE_DIR/profile.sqlite $OUT/
el bench
timeout 120 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_call2 2>&1 | grep '\[ait\]' | grep -v 'wrote' | tail -14
el ops
timeout 100 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|^pool2d_1 \|^gemm" $OUT/ops.log
el new-kernel tests
timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py tests/test_gpu_splitk.py tests/test_gpu_runtime.py -rA 2>&1 | q > $OUT/pytest_new.log; grep -i "passed\|failed\|error" $OUT/pytest_new.log | grep -v "^PASSED" | tail -25
el ops tests
timeout $(( 570 - ($(date +%s) - T0) )) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_ops.py -rA --junitxml=$OUT/pytest_ops.xml 2>&1 | q > $OUT/pytest_ops.log; grep -i "passed\|failed\|error" $OUT/pytest_ops.log | grep -v "^PASSED" | tail -15
rm -f $OUT/*.csv; ls $OUT; el end
