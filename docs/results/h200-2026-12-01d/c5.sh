# Compile-time facts on the H200 host: one Hopper unit alone (full / cubin / host stub), two at once,
# 15 at once; then a cold ResNet-50 compile at main with the build instrument.
set -o pipefail
T0=$(date +%s); el() { echo "[t+$(( $(date +%s) - T0 ))s] $*"; }
source scripts/gpu_env.sh > $OUT/env.log 2>&1; cat $OUT/env.log
nproc; lscpu | grep -i "model name\|MHz\|^CPU(s)" | head -4
FL=$(python3 -c "
from ait.backend import nvcc; from ait.backend.target import Target
print(' '.join(nvcc.compile_flags(Target.for_arch(90), True)))")
cd tmp/pb
t() { /usr/bin/time -f "$1: %e s wall %U user %S sys" "${@:2}" 2>&1 | tail -1; }
el alone
t full nvcc $FL -c unit.cu -o /tmp/u.o
t cubin nvcc $FL -cubin unit.cu -o /tmp/u.cubin
t stub nvcc $FL -c unit_stub.cu -o /tmp/s.o
el "15 full at once"
for i in $(seq 15); do t "full15-$i" nvcc $FL -c unit.cu -o /tmp/u$i.o > /tmp/t$i.txt & done; wait; cat /tmp/t*.txt | sort -t: -k2 -n | sed -n '1p;8p;15p'
cd ../..
el compile
export AIT_CACHE_DIR=$PWD/tmp/cache
/usr/bin/time -f "cold compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/w').close()" 2>&1 | grep -v '/s\]\|/shape\]\|/op\]\|rejected\|left out' | tail -7 | tee $OUT/compile.log
el end
