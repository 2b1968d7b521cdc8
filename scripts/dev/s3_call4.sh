# Device command 4 of the 2026-12-01 (third) session (docs/results/h200-2026-12-01c): cold compile
# (pruned candidates, paired units, persistent conv), ait and torch.compile in one run, per-op tables,
# model GPU tests and the serving NaN case.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh compile.log
el compile
cold_compile tmp/tests | grep -v 'rejected\|left out' | tail -6 | tee -a $OUT/compile.log
cp $AIT_CACHE_DIR/profile.sqlite $OUT/
el bench-ait
timeout 120 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\]' | grep -v 'wrote' | tail -12
el bench-pt
timeout 170 python3 benchmark_pt.py --batch-size 1,8,32,128,256 --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 | grep '\[pt\] bs=' | tail -10
el ops
timeout 60 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|^conv2d_2 \|^conv2d_6 \|bs=" $OUT/ops.log
el tests
timeout $(left 520) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -rA 2>&1 | q > $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -8
el serve
timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_serve_gpu.py -rA 2>&1 | q >> $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -6
rm -f $OUT/*.csv; ls $OUT; el end
