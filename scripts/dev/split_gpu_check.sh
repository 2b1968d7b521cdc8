# One device command for the Hopper split build (branch hopper-split), run in the repo root with
# .whl/ carried: cold ResNet-50 1..256 compile (INFO log: the profilers line gives concurrency and
# the longest objects, now "<unit> [device]" / "<unit> [host]"), the model and persistent-conv GPU
# tests, a short benchmark. At most ~560 s; six files under $OUT.
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
set -o pipefail
T0=$(date +%s); el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( $1 - ($(date +%s) - T0) )); }
source scripts/gpu_env.sh > $OUT/env.log 2>&1; cat $OUT/env.log
export AIT_CACHE_DIR=$PWD/tmp/cache AIT_TEST_WORKDIR=$PWD/tmp/tests
q() { grep -v '/s\]\|/shape\]\|/op\]'; }
git log -1 --format='commit %h %ci' 2>/dev/null
echo "AIT_SPLIT_HOPPER=${AIT_SPLIT_HOPPER:-1 (default)} nproc=$(nproc)"
el compile
timeout $(left 300) /usr/bin/time -f "cold compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/tests').close()" > $OUT/compile.log 2>&1
echo "compile rc=$?"; q < $OUT/compile.log | grep 'profilers:\|selection:\|nvcc:\|wall\|Error\|error' | tail -12
ls $AIT_CACHE_DIR/objects/*/ 2>/dev/null | grep -c '\.cubin$' | sed 's/^/cubins in the cache: /'
el tests
timeout $(left 470) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py \
  tests/test_gpu_conv_persistent.py -rA 2>&1 | q > $OUT/pytest_gpu.log
echo "pytest rc=$?"; grep -i "passed\|failed\|error" $OUT/pytest_gpu.log | grep -v "^PASSED" | tail -15
el bench
timeout $(left 550) python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 \
  --no-caller-timing --results-dir $OUT --out-name ait_split > $OUT/bench.log 2>&1
echo "bench rc=$?"; grep 'bs=\|rror' $OUT/bench.log | tail -6
rm -f $OUT/*.csv; ls $OUT; el end
