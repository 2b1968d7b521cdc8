# Device command 1 of the 2026-12-01 (third) session, kept for the results in docs/results/h200-2026-12-01c:
# cold compile, PDL launch-completion ("start") against "trigger", per-op tables, runtime + model GPU tests.
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh compile.log
git log -1 --format='commit %h %ci' 2>/dev/null
el compile
cold_compile tmp/tests | grep -v 'rejected\|left out' | tail -6 | tee -a $OUT/compile.log
cp $AIT_CACHE_DIR/profile.sqlite $OUT/
el bench
for pdl in start trigger; do AIT_PDL=$pdl timeout 100 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ait_pdl_$pdl 2>&1 | grep '\[ait\] bs=' | tail -6; done
el ops
timeout 90 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|^pool\|^gemm\|bs=" $OUT/ops.log
el tests
timeout $(left 570) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_runtime.py tests/test_gpu_resnet.py -rA 2>&1 | q > $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -12
rm -f $OUT/*.csv; ls $OUT; el end
