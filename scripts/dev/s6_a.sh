# Session 6, device command A (carry [".whl", "tmp/base_tree.tar"], the tar made here by
# `git archive -o tmp/base_tree.tar 6fe4a70`: the tree before the host passes queued last):
# a cold ResNet-50 1..256 compile of this tree; the model GPU tests on it; ait and
# torch.compile in one run; per-op tables at batch 1 and 256; last, a cold compile of the base
# tree on its own fresh cache (the build order's A/B on one host). About 480 s.
case "${1:-}" in -h|--help) sed -n 1,6p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -f tmp/base_tree.tar ] || { echo "tmp/base_tree.tar missing: git archive -o tmp/base_tree.tar 6fe4a70"; exit 3; }
summary() { grep 'profilers:\|selection:\|profiling:\|wall\|compiled resnet\|rror' "$1" | cut -c1-300 | tail -7; }
el "compile (this tree)"
cold_compile tmp/w > $OUT/compile_new.log 2>&1; summary $OUT/compile_new.log
el tests
timeout $(left 330) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -x -rA 2>&1 | q > $OUT/pytest_resnet.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet.log | grep -v "^PASSED" | tail -6
el bench-ait
timeout 100 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\]' | grep -v wrote | tail -12
el bench-pt
timeout $(left 420) python3 benchmark_pt.py --batch-size 1,8,32,128,256 --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 | grep '\[pt\] bs=' | tail -10
el ops
timeout $(left 460) python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops > $OUT/ops.log 2>&1; grep "^sum\|bs=" $OUT/ops.log | head -6
cp $AIT_CACHE_DIR/profile.sqlite $OUT/ 2>/dev/null
rm -f $OUT/*.csv
(cd $OUT && tar czf results.tgz --remove-files *.json *.sqlite pytest_resnet.log ops.log 2>/dev/null)
el "compile (base tree, its own fresh cache)"
mkdir -p tmp/B && tar -xf tmp/base_tree.tar -C tmp/B
(cd tmp/B && export AIT_CACHE_DIR=$OLDPWD/tmp/cache_base && cold_compile $OLDPWD/tmp/w_base) > $OUT/compile_base.log 2>&1
summary $OUT/compile_base.log
ls $OUT; el end
