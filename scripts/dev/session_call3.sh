# Device command of the 2026-12-01 (second) session, kept for the results in docs/results/h200-2026-12-01b.
# Run on the GPU machine from the repository root with .whl and tmp/dev carried (see the README there).
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh compile.log
el compile
cold_compile tmp/tests | grep -v 'rejected\|left out' | tail -6 | tee -a $OUT/compile.log
/usr/bin/time -f "warm rebuild wall %e s" python3 -c "
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/tests').close()" 2>&1 | q | tail -2 | tee -a $OUT/compile.log
cp $AIT_CACHE_DIR/profile.sqlite $OUT/
el bench-ait
timeout 120 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\]' | grep -v 'wrote' | tail -14
el bench-pt
timeout 150 python3 benchmark_pt.py --batch-size 1,8,32,128,256 --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 | grep '\[pt\] bs=' | tail -10
el ops
timeout 90 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|^conv2d_2 \|max_rel\|warning" $OUT/ops.log
el tests
timeout 150 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py tests/test_gpu_runtime.py tests/test_gpu_ops.py -k "stem or runtime" -rA 2>&1 | q > $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -12
el models
timeout $(left 575) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py tests/test_gpu_scripts.py -rA 2>&1 | q >> $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -12
rm -f $OUT/*.csv; ls $OUT; el end
