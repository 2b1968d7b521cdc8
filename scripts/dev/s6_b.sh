# Session 6, device command B, right after A on the same machine (its tmp/ and compile cache
# are kept while it is warm): the depth tests (ResNet-34 / 101 / 152, wide_resnet50_2 against
# timm) and the serving GPU tests. About 200-360 s.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh env_b.log
el depths
timeout $(left 430) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_depths.py -rA 2>&1 | q > $OUT/pytest_depths.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_depths.log | grep -v "^PASSED" | tail -14
el serve
timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_serve_gpu.py -rA 2>&1 | q > $OUT/pytest_serve.log
echo "pytest rc=$?"; grep -i "passed\|failed\|error" $OUT/pytest_serve.log | grep -v "^PASSED" | tail -4
ls $OUT; el end
