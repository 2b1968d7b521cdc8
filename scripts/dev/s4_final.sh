# Final device command of the 2026-12-01 (fourth) session (docs/results/h200-2026-12-01d): cold
# compile with the build instrument, ait and torch.compile in one run, per-op tables, candidate
# leave-one-out, the model GPU tests (ResNet-18/50, the other depths) and the serving test.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
set -o pipefail
T0=$(date +%s); el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( $1 - ($(date +%s) - T0) )); }
source scripts/gpu_env.sh > $OUT/compile.log 2>&1; cat $OUT/compile.log
export AIT_CACHE_DIR=$PWD/tmp/cache AIT_TEST_WORKDIR=$PWD/tmp/tests
q() { grep -v '/s\]\|/shape\]\|/op\]'; }
el compile
/usr/bin/time -f "cold compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/tests').close()" 2>&1 | q | grep -v 'rejected\|left out' | tail -7 | tee -a $OUT/compile.log
el bench-ait
timeout 120 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\]' | grep -v 'wrote' | tail -12
el bench-pt
timeout 170 python3 benchmark_pt.py --batch-size 1,8,32,128,256 --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 | grep '\[pt\] bs=' | tail -10
el ops
timeout 60 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|bs=" $OUT/ops.log
python3 scripts/candidate_wins.py --cache $AIT_CACHE_DIR/profile.sqlite --leave-one-out resnet50 > $OUT/candidates.txt 2>&1; tail -25 $OUT/candidates.txt
el depths
timeout $(left 380) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_depths.py -rA -s 2>&1 | q > $OUT/pytest_gpu.log; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -16
el tests
timeout $(left 560) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -rA 2>&1 | q >> $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -8
el serve
timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_serve_gpu.py -rA 2>&1 | q >> $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -4
cp $AIT_CACHE_DIR/profile.sqlite $OUT/ 2>/dev/null
rm -f $OUT/*.csv; (cd $OUT && tar czf results.tgz --remove-files *.json *.sqlite 2>/dev/null); ls $OUT; el end
