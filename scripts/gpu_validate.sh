#!/usr/bin/env bash
# The GPU validation and benchmark runs behind the README's figures, in phases so that each
# fits one 10-minute device command. Logs and results go to $OUT (default ./results/gpu).
#   bash scripts/gpu_validate.sh compile tests ait dp     # phase 1 (tests-ops, tests-models:
#                                                         # the two halves of tests)
#   bash scripts/gpu_validate.sh pt padded ait16          # phase 2
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
source scripts/gpu_env.sh > "$OUT/env.log" 2>&1 || { cat "$OUT/env.log"; exit 1; }
cat "$OUT/env.log"
export AIT_CACHE_DIR=${AIT_CACHE_DIR:-$PWD/tmp/cache} AIT_TEST_WORKDIR=$PWD/tmp/tests
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# drop tqdm's progress lines (they end in "it/s]", "s/op]", ...) from the logs
quiet() { grep -v '[a-z]/s\]\|s/[a-z]*\]'; }
rc=0
for phase in "$@"; do
  echo "== phase $phase: $(date -u +%FT%TZ)"
  case $phase in
    compile)  # cold compile (profiling included), then a warm rebuild of the same model
      for run in cold warm; do
        /usr/bin/time -f "$run compile wall %e s" python3 -c "
import logging; logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from modeling.build import compile_resnet
compile_resnet('resnet50', (1, 256), 'tmp/bench').close()" 2>&1 \
          | quiet | tee "$OUT/compile_$run.full.log" | grep -v '^ait.tune.select: .*rejected' | tail -6
      done 2>&1 | tee "$OUT/compile.log" || rc=1 ;;
    tests|tests-ops|tests-models)  # tests = both halves; each half fits one device command
      case $phase in
        tests-ops) files="tests/test_gpu_ops.py tests/test_gpu_stem.py tests/test_gpu_splitk.py
                          tests/test_tune_gpu.py tests/test_bench_cli.py" ;;
        tests-models) files="tests/test_gpu_resnet.py tests/test_gpu_scripts.py
                             tests/test_gpu_runtime.py tests/test_serve_gpu.py" ;;
        *) files=tests/ ;;
      esac
      # -rA and a junit file: a run stopped by a time limit still says which tests failed;
      # pytest writes its file itself (a filter in a pipe killed by an outer timeout would
      # lose what it buffered), the filtered copy is made after
      CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} python3 -m pytest -q -p no:cacheprovider \
        -m gpu $files -rA --junitxml="$OUT/pytest_$phase.xml" > "$OUT/pytest_$phase.full.log" 2>&1 \
        || rc=1
      quiet < "$OUT/pytest_$phase.full.log" > "$OUT/pytest_$phase.log"
      rm -f "$OUT/pytest_$phase.full.log"; tail -15 "$OUT/pytest_$phase.log" ;;
    ait)
      CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} python3 benchmark_ait.py --workdir tmp/bench \
        --profile-ops --results-dir "$OUT" 2>&1 | quiet | tee "$OUT/ait.log" | tail -20 || rc=1 ;;
    ait16)
      CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} python3 benchmark_ait.py --workdir tmp/bench \
        --use-fp16-acc --results-dir "$OUT" 2>&1 | quiet | tee "$OUT/ait16.log" | tail -16 || rc=1 ;;
    padded)  # the channel-padded 7x7 stem (the default is space-to-depth), same sweep
      CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} python3 benchmark_ait.py --workdir tmp/bench \
        --stem padded --profile-ops --results-dir "$OUT" --out-name ait_padded 2>&1 \
        | quiet | tee "$OUT/ait_padded.log" | tail -16 || rc=1 ;;
    dp)
      RESULTS_DIR=tmp/dp ./benchmark_mi250.sh 256 2 -- --workdir tmp/bench 2>&1 \
        | quiet | tee "$OUT/dp.log" | tail -20 || rc=1 ;;
    pt)
      CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} python3 benchmark_pt.py \
        --results-dir "$OUT" 2>&1 | quiet | tee "$OUT/pt.log" | tail -20 || rc=1 ;;
    *) echo "unknown phase $phase"; rc=2 ;;
  esac
done
exit $rc
