# Session 10, device command D (carry [".whl"]): the model GPU tests with the strip-of-rows 3x3
# conv among the candidates: ResNet-18/50 against timm and the runtime, then, with the time
# left, the other depths and the scripts. About 450 s on a fresh machine.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
el test_gpu_resnet
timeout 330 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py \
  tests/test_gpu_runtime.py -rA 2>&1 | q > $OUT/pytest_resnet_runtime.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet_runtime.log \
  | grep -v "^PASSED" | cut -c1-240 | tail -6
el test_gpu_depths
timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_depths.py -rA 2>&1 \
  | q > $OUT/pytest_depths.log
echo "pytest rc=$?"; grep -i "passed\|failed\|error" $OUT/pytest_depths.log | grep -v "^PASSED" | cut -c1-240 | tail -6
ls $OUT; el end
