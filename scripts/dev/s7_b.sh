# Session 7, device command B (carry [".whl"]), right after A: the model GPU tests (ResNet-18/50,
# the other depths, serving) on this tree. About 270 s.
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
for t in resnet depths; do
  el "test_gpu_$t"
  timeout $(left 440) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_$t.py -rA 2>&1 | q > $OUT/pytest_$t.log
  echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_$t.log | grep -v "^PASSED" | tail -8
done
el test_serve_gpu
timeout $(left 585) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_serve_gpu.py -rA 2>&1 | q > $OUT/pytest_serve.log
echo "pytest rc=$?"; grep -i "passed\|failed\|error" $OUT/pytest_serve.log | grep -v "^PASSED" | tail -4
ls $OUT; el end
