# The common start of the device command scripts here; source it from the repository root on
# the GPU machine ($OUT set):   source scripts/dev/device_prelude.sh [LOG]
# It sets pipefail; el MSG prints MSG with the seconds since the start, left N the seconds
# left of N, q drops progress-bar lines; it sources scripts/gpu_env.sh with its output in
# $OUT/LOG (default env.log) and shown; it exports the tests' cache and work dirs under tmp/.
# cold_compile WORKDIR compiles ResNet-50 for batch 1..256 with INFO logging, timed.
set -o pipefail
T0=$(date +%s)
el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( $1 - ($(date +%s) - T0) )); }
q() { grep -v '/s\]\|/shape\]\|/op\]'; }
source scripts/gpu_env.sh > "$OUT/${1:-env.log}" 2>&1; cat "$OUT/${1:-env.log}"
export AIT_CACHE_DIR=$PWD/tmp/cache AIT_TEST_WORKDIR=$PWD/tmp/tests
cold_compile() {
  /usr/bin/time -f "cold compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), '$1').close()" 2>&1 | q
}
