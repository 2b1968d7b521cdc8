# Device command of the 2026-12-01 (second) session, kept for the results in docs/results/h200-2026-12-01b.
# Run on the GPU machine from the repository root with .whl and tmp/dev carried (see the README there).
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
set -o pipefail
T0=$(date +%s); el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
source scripts/gpu_env.sh > /dev/null 2>&1
q() { grep -v '/s\]\|/shape\]\|/op\]'; }
SITE=/tmp/site/cutlass_library/source/include
find $SITE -name '*.h*' -exec cat {} + > /dev/null 2>&1; python3 -c "import ait.tune, modeling.build"
run() {  # $1 label, $2 cache dir
  el "$1"
  AIT_CACHE_DIR=$PWD/tmp/$2 timeout 125 /usr/bin/time -f "$1 cold compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/w$2', load=False)" 2>&1 | q | grep 'built in\|selection:\|nvcc: compiled\|wall' | tee -a $OUT/compile_ab.log
}
run "new-flags" cA
cp ait/backend/nvcc.py /tmp/nvcc_new.py; cp ait/tune/build.py /tmp/build_new.py
cp tmp/dev/old/nvcc.py ait/backend/nvcc.py; cp tmp/dev/old/build.py ait/tune/build.py
run "old-flags" cB
cp /tmp/nvcc_new.py ait/backend/nvcc.py; cp /tmp/build_new.py ait/tune/build.py
el end
