# Session 12, device command B (carry [".whl"]; right after A): ResNet-18/50 against timm, the
# runtime and the other depths on the GPU at main. Logs in $OUT/results.tgz. About 250 s.
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
for f in "test_gpu_resnet.py tests/test_gpu_runtime.py" "test_gpu_depths.py"; do
  el "pytest $f"
  log=$OUT/pytest_$(echo $f | cut -d. -f1 | sed 's/test_gpu_//').log
  timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/$f -rA 2>&1 | q > $log
  echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $log | grep -v "^PASSED" \
    | cut -c1-240 | tail -5
done
(cd $OUT && tar czf results.tgz --remove-files *.log)
el end
