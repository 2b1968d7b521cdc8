# Session 5, device command A (main + hopper-split): cold ResNet-50 1..256 compiles of the split
# and the single-object Hopper build, each with its own fresh cache, one machine; the model
# GPU tests on the split build; a short benchmark of both models. Writes tmp/product.env (the
# variant the later commands measure: split if its tests pass and it compiled faster).
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
git log -1 --format='commit %h %ci' 2>/dev/null; echo "nproc=$(nproc)"
wall() { grep -o 'cold compile wall [0-9.]*' "$1" | awk '{print $4}'; }
for v in split plain; do
  export AIT_CACHE_DIR=$PWD/tmp/cache_$v AIT_SPLIT_HOPPER=$([ $v = split ] && echo 1 || echo 0)
  el "compile $v"
  cold_compile tmp/w_$v > $OUT/compile_$v.log 2>&1
  grep 'profilers:\|selection:\|profiling:\|nvcc:\|wall\|compiled resnet\|Error\|error' $OUT/compile_$v.log | cut -c1-400 | tail -8
done
export AIT_CACHE_DIR=$PWD/tmp/cache_split AIT_SPLIT_HOPPER=1
el "tests (split)"
timeout $(left 420) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -x -rA 2>&1 | q > $OUT/pytest_resnet_split.log
rc=$?; echo "pytest resnet (split) rc=$rc"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet_split.log | grep -v "^PASSED" | tail -8
for v in split plain; do
  export AIT_CACHE_DIR=$PWD/tmp/cache_$v AIT_SPLIT_HOPPER=$([ $v = split ] && echo 1 || echo 0)
  timeout 60 python3 benchmark_ait.py --workdir tmp/w_$v --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ab_$v > $OUT/bench_$v.log 2>&1
  echo "$v:"; grep '\[ait\] bs=' $OUT/bench_$v.log | tail -5
done
ts=$(wall $OUT/compile_split.log); tp=$(wall $OUT/compile_plain.log)
if [ $rc -eq 0 ] && [ -n "$ts" ] && [ -n "$tp" ] && awk "BEGIN{exit !($ts < $tp - 2)}"; then v=split; else v=plain; fi
echo "export AIT_CACHE_DIR=$PWD/tmp/cache_$v AIT_SPLIT_HOPPER=$([ $v = split ] && echo 1 || echo 0) W=tmp/w_$v VARIANT=$v" > tmp/product.env
echo "product: $v (cold split ${ts:-?} s, plain ${tp:-?} s, split tests rc $rc)"; cat tmp/product.env
rm -f $OUT/*.csv; ls $OUT; el end
