# Device command 3 of the 2026-12-01 (third) session (docs/results/h200-2026-12-01c): the stem with
# its patch prefetched against the stem before (tmp/stem_old.cu carried), stem GPU tests, the
# persistent 3.x conv's GPU tests (profiler check of every tile + in a model).
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh env.log
el stem-new
timeout 80 python3 scripts/dev/bench_stem.py --no-profile --batches 1 32 256 --workdir tmp/bs_new 2>&1 | tail -4 | tee $OUT/bench_stem.log
cp ait/ops/stem/stem.cu tmp/stem_new.cu && cp tmp/stem_old.cu ait/ops/stem/stem.cu
el stem-old
timeout 60 python3 scripts/dev/bench_stem.py --no-profile --batches 1 32 256 --workdir tmp/bs_old 2>&1 | tail -4 | tee -a $OUT/bench_stem.log
cp tmp/stem_new.cu ait/ops/stem/stem.cu
el stem-tests
timeout 120 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py -rA 2>&1 | q > $OUT/pytest_stem.log; grep -i "passed\|failed\|error" $OUT/pytest_stem.log | grep -v "^PASSED" | tail -8
el pconv-tests
timeout $(left 520) python3 -m pytest -q -s -p no:cacheprovider -m gpu tests/test_gpu_conv_persistent.py -rA 2>&1 | q > $OUT/pytest_pconv.log; grep -i "passed\|failed\|error\| us$" $OUT/pytest_pconv.log | grep -v "^PASSED" | cut -c1-400 | tail -16
ls $OUT; el end
