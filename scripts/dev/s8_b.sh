# Session 8, device command B (carry [".whl"]): the split-K cluster form. The GPU split-K tests
# (both forms against numpy); a cold ResNet-50 1..256 compile offering the cluster form, then
# one with AIT_SPLITK_CLUSTER=0 (the two-kernel form only); both .so timed in turn at batch 1,
# 8, 32 (new / old / new / old), per-op tables at batch 1; the profiler's split-K times
# (scripts/dev/splitk_table.py); the runtime tests. About 450 s.
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
summary() { grep 'profilers:\|selection:\|profiling:\|processes:\|wall\|compiled resnet\|rror' "$1" | cut -c1-300 | tail -7; }
el splitk-tests
timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_splitk.py -rA > $OUT/pytest_splitk.log 2>&1
echo "pytest splitk rc=$?"; grep -v "^PASSED" $OUT/pytest_splitk.log | tail -8
el compile-new
cold_compile tmp/w > $OUT/compile_new.log 2>&1; summary $OUT/compile_new.log
el compile-old
AIT_SPLITK_CLUSTER=0 cold_compile tmp/w0 > $OUT/compile_old.log 2>&1; summary $OUT/compile_old.log
bench() {  # $1 label, $2 workdir, $3 AIT_SPLITK_CLUSTER
  AIT_SPLITK_CLUSTER=$3 timeout 60 python3 benchmark_ait.py --workdir $2 --batch-size 1,8,32 \
    --results-dir $OUT --out-name ab_$1 2>&1 | grep '\[ait\] bs=' | sed "s/^/$1 /"
}
el bench
bench new1 tmp/w 1; bench old1 tmp/w0 0; bench new2 tmp/w 1; bench old2 tmp/w0 0
el ops
timeout 60 python3 benchmark_ait.py --workdir tmp/w --batch-size 1 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops_new > $OUT/ops_new.log 2>&1
AIT_SPLITK_CLUSTER=0 timeout 60 python3 benchmark_ait.py --workdir tmp/w0 --batch-size 1 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops_old > $OUT/ops_old.log 2>&1
grep "^sum\|bs=" $OUT/ops_new.log $OUT/ops_old.log | cut -c1-140
python3 scripts/dev/splitk_table.py > $OUT/splitk_table.txt 2>&1; cat $OUT/splitk_table.txt | cut -c1-200 | head -40
el runtime-tests
timeout $(left 580) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_runtime.py -rA > $OUT/pytest_runtime.log 2>&1
echo "pytest runtime rc=$?"; grep -v "^PASSED" $OUT/pytest_runtime.log | tail -5
rm -f $OUT/*.csv
(cd $OUT && tar czf results.tgz --remove-files *.json compile_*.log pytest_splitk.log 2>/dev/null)
ls $OUT; el end
