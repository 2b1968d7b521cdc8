# Session 11, device command D (carry [".whl"]; right after command C): the GPU tests of the
# 3x3 row conv, ResNet-18/50 against timm and the runtime, the other depths. All logs in
# $OUT/results.tgz. About 400 s.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -d tmp/cache_4a ] && export AIT_CACHE_DIR=$PWD/tmp/cache_4a  # command C's kernels, when warm
for f in "test_gpu_rows3x3.py" "test_gpu_resnet.py tests/test_gpu_runtime.py" "test_gpu_depths.py"; do
  el "pytest $f"
  log=$OUT/pytest_$(echo $f | cut -d. -f1 | sed 's/test_gpu_//').log
  timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/$f -rA 2>&1 | q > $log
  echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $log | grep -v "^PASSED" \
    | cut -c1-240 | tail -5
done
(cd $OUT && tar czf results.tgz --remove-files *.log)
ls $OUT; el end
