# Device command 1 of the 2026-12-01 (third) session, kept for the results in docs/results/h200-2026-12-01c:
# cold compile, PDL launch-completion ("start") against "trigger", per-op tables, runtime + model GPU tests.
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
set -o pipefail
T0=$(date +%s); el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( $1 - ($(date +%s) - T0) )); }
source scripts/gpu_env.sh > $OUT/compile.log 2>&1; cat $OUT/compile.log
export AIT_CACHE_DIR=$PWD/tmp/cache AIT_TEST_WORKDIR=$PWD/tmp/tests
q() { grep -v '/s\]\|/shape\]\|/op\]'; }
git log -1 --format='commit %h %ci' 2>/dev/null
el compile
/usr/bin/time -f "cold compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/tests').close()" 2>&1 | q | grep -v 'rejected\|left out' | tail -6 | tee -a $OUT/compile.log
cp $AIT_CACHE_DIR/profile.sqlite $OUT/
el bench
for pdl in start trigger; do AIT_PDL=$pdl timeout 100 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ait_pdl_$pdl 2>&1 | grep '\[ait\] bs=' | tail -6; done
el ops
timeout 90 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|^pool\|^gemm\|bs=" $OUT/ops.log
el tests
timeout $(left 570) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_runtime.py tests/test_gpu_resnet.py -rA 2>&1 | q > $OUT/pytest_gpu.log; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -12
rm -f $OUT/*.csv; ls $OUT; el end
