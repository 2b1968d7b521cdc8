# Session 7, device command A (carry [".whl", "tmp/stem_old.cu"], the stem of main made here by
# `git show main:ait/ops/stem/stem.cu > tmp/stem_old.cu`): the GPU stem tests on this tree's
# stem (the async patch copy); the stem alone timed new / old / new; then a cold ResNet-50
# 1..256 compile, ait and torch.compile in one run, per-op tables at batch 1 and 256. If the
# stem tests fail, main's stem is put back before the model is built. About 500 s; with the
# argument `stem` only the stem part (about 150 s), with `model` only the rest.
case "${1:-}" in -h|--help) sed -n 1,6p "$0"; exit 0 ;; esac
part=${1:-all}
source scripts/dev/device_prelude.sh
[ -f tmp/stem_old.cu ] || { echo "tmp/stem_old.cu missing: git show main:ait/ops/stem/stem.cu > tmp/stem_old.cu"; exit 3; }
summary() { grep 'profilers:\|selection:\|profiling:\|processes:\|wall\|compiled resnet\|rror' "$1" | cut -c1-300 | tail -7; }
cp ait/ops/stem/stem.cu tmp/stem_new.cu
rc=0
if [ $part != model ]; then
el "stem tests"
timeout 150 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py -rA > $OUT/pytest_stem.log 2>&1
rc=$?; echo "pytest rc=$rc"; grep -i "passed\|failed\|error" $OUT/pytest_stem.log | grep -v "^PASSED" | tail -8
bench() {  # $1 label, $2 stem.cu to use
  cp "$2" ait/ops/stem/stem.cu; el "bench $1"
  timeout 100 python3 scripts/dev/bench_stem.py --no-profile --batches 1 32 256 --workdir tmp/bs_$1 2>&1 \
    | grep -v '^\s*$' | tail -4 | sed "s/^/$1 /" | tee -a $OUT/bench_stem.log
}
bench new tmp/stem_new.cu; bench old tmp/stem_old.cu; bench new2 tmp/stem_new.cu
cp tmp/stem_new.cu ait/ops/stem/stem.cu
fi
[ $part = stem ] && { ls $OUT; el end; exit 0; }
if [ $rc != 0 ]; then echo "STEM TESTS FAILED: main's stem for the model"; cp tmp/stem_old.cu ait/ops/stem/stem.cu; fi
el "compile"
cold_compile tmp/w > $OUT/compile.log 2>&1; summary $OUT/compile.log
el bench-ait
timeout 100 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\] bs=' | tail -6
el bench-pt
timeout $(left 380) python3 benchmark_pt.py --batch-size 1,8,32,128,256 --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 | grep '\[pt\] bs=' | tail -10
el test_gpu_resnet
timeout $(left 480) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -rA 2>&1 | q > $OUT/pytest_resnet.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet.log | grep -v "^PASSED" | tail -6
el ops
timeout $(left ${DEADLINE:-585}) python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops > $OUT/ops.log 2>&1; grep "^stem\|^sum\|bs=" $OUT/ops.log | cut -c1-120 | head -8
rm -f $OUT/*.csv
(cd $OUT && tar czf results.tgz --remove-files *.json pytest_stem.log ops.log 2>/dev/null)
ls $OUT; el end
