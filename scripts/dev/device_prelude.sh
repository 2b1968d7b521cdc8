# The common start of the device command scripts here; source it from the repository root on
# the GPU machine ($OUT set):   source scripts/dev/device_prelude.sh [LOG]
# It sets pipefail; el MSG prints MSG with the seconds since the start, left N the seconds
# left of N, q drops progress-bar lines; it sources scripts/gpu_env.sh with its output in
# $OUT/LOG (default env.log) and shown; it exports the tests' cache and work dirs under tmp/.
# cold_compile WORKDIR compiles ResNet-50 for batch 1..256 with INFO logging, timed;
# compile_summary LOG prints its build / profiling / wall lines; bench_ab VAR LABEL WORKDIR VALUE
# times WORKDIR's ResNet-50 at batch 1..256 with VAR=VALUE into $OUT/ab_LABEL.json, one line a
# batch prefixed with LABEL. same_run_bench WORKDIR times WORKDIR's model and torch.compile
# (README figures) in one command into $OUT/ait_final.json and pt_final.json; pack_results
# puts $OUT's logs and JSON into $OUT/results.tgz.
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
compile_summary() {
  grep 'profilers:\|selection:\|profiling:\|processes:\|wall\|compiled resnet\|rror' "$1" \
    | cut -c1-300 | tail -7
}
bench_ab() {
  env "$1=$4" timeout 80 python3 benchmark_ait.py --workdir "$3" --batch-size 1,8,32,128,256 \
    --results-dir $OUT --out-name "ab_$2" 2>&1 | grep '\[ait\] bs=' | sed "s/^/$2 /"
}
same_run_bench() {
  el bench-ait
  timeout 60 python3 benchmark_ait.py --workdir "$1" --batch-size 1,8,32,128,256 \
    --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\] bs=' | tail -6
  el bench-pt
  timeout $(left 590) python3 benchmark_pt.py --batch-size 1,8,32,128,256 \
    --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 \
    | grep '\[pt\] bs=' | tail -10
}
pack_results() {
  rm -f $OUT/*.csv $OUT/*.csv.tmp
  (cd $OUT && tar czf results.tgz --remove-files *.log *.json)
  ls $OUT; el end
}
