# Session 5, device command C, after A and B on the same machine: the depth tests (ResNet-34,
# 101, 152, wide_resnet50_2 against timm fp32, batch 1 / 5 / 64, eager and graph) on the chosen
# variant (tmp/product.env), and its profile cache for later leave-one-out runs.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -f tmp/product.env ] && source tmp/product.env; echo "variant ${VARIANT:-none (fresh machine)}"
el depths
timeout $(left 560) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_depths.py -rA -s 2>&1 | q > $OUT/pytest_depths.log
grep -i "relative error\|passed\|failed\|error" $OUT/pytest_depths.log | grep -v "^PASSED" | tail -16
cp $AIT_CACHE_DIR/profile.sqlite $OUT/profile_depths.sqlite 2>/dev/null; ls $OUT; el end
