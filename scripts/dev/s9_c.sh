# Session 9, device command C (carry [".whl"]; right after command B, on the same warm machine,
# whose tmp/w holds the ResNet-50 build, else it compiles cold): ait and torch.compile in one
# run at batch 1, 8, 32, 128, 256 (README figures); the model GPU tests (ResNet-18/50 against
# timm, the runtime). About 500 s.
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -d tmp/w ] && echo "tmp/w present (warm machine)" || echo "tmp/w absent: cold compile"
el bench-ait
timeout 200 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,8,32,128,256 \
  --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\] bs=\|compiled' | tail -6
el bench-pt
timeout $(left 400) python3 benchmark_pt.py --batch-size 1,8,32,128,256 \
  --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 \
  | grep '\[pt\] bs=' | tail -10
el test_gpu_resnet
timeout $(left 560) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py \
  tests/test_gpu_runtime.py -rA 2>&1 | q > $OUT/pytest_resnet_runtime.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet_runtime.log \
  | grep -v "^PASSED" | tail -6
rm -f $OUT/*.csv
ls $OUT; el end
