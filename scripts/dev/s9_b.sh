# Session 9, device command B (carry [".whl", "tmp/stem_rows_v1.cu"], the first row kernel made
# here by `git show 373cd3a:ait/ops/stem/stem_rows.cu > tmp/stem_rows_v1.cu`): the stem's row
# kernel with both operands through descriptors and up to 4 warpgroups. The stem alone: this
# tree's builds (row / tile / unfused), then the row kernel capped at 3 warpgroups and the first
# row kernel (2 warpgroups, weights in registers); the GPU stem tests; if they fail, the first
# row kernel is put back for the rest: a cold ResNet-50 1..256 compile, the same graph with
# AIT_STEM_ROWS=0, both timed in turn; per-op tables at batch 1 and 256. About 500 s.
case "${1:-}" in -h|--help) sed -n 1,7p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -f tmp/stem_rows_v1.cu ] || { echo "tmp/stem_rows_v1.cu missing (see the header)"; exit 3; }
SRC=ait/ops/stem/stem_rows.cu
cp $SRC tmp/stem_rows_new.cu
sed 's/^#define AIT_STEM_ROWS_MAX_WARPGROUPS 4$/#define AIT_STEM_ROWS_MAX_WARPGROUPS 3/' $SRC > tmp/stem_rows_wg3.cu
grep -q '^#define AIT_STEM_ROWS_MAX_WARPGROUPS 3$' tmp/stem_rows_wg3.cu || echo "wg3 variant: define not found"
B="1 2 4 8 32 128 256"
el bench-stem
timeout 150 python3 scripts/dev/bench_stem.py --no-profile --batches $B --workdir tmp/bs 2>&1 \
  | grep -v '^\s*$' | tail -9 | tee $OUT/bench_stem.log
variant() {  # $1 label, $2 stem_rows.cu to use
  cp "$2" $SRC; el "bench $1"
  timeout 80 python3 scripts/dev/bench_stem.py --no-profile --builds rows --batches $B \
    --workdir tmp/bs_$1 2>&1 | grep -v '^\s*$' | tail -8 | sed "s/^/$1 /" | tee -a $OUT/bench_stem.log
}
variant wg3 tmp/stem_rows_wg3.cu
variant v1 tmp/stem_rows_v1.cu
variant new2 tmp/stem_rows_new.cu
cp tmp/stem_rows_new.cu $SRC
el stem-tests
timeout 300 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_stem.py -rA \
  > $OUT/pytest_stem.log 2>&1
rc=$?; echo "pytest stem rc=$rc"; grep -v "^PASSED" $OUT/pytest_stem.log | grep -i "passed\|failed\|error" | cut -c1-300 | tail -12
if [ $rc != 0 ]; then echo "STEM TESTS FAILED: the first row kernel for the model"; cp tmp/stem_rows_v1.cu $SRC; fi
el compile-rows
cold_compile tmp/w > $OUT/compile_rows.log 2>&1; compile_summary $OUT/compile_rows.log
el compile-tile
AIT_STEM_ROWS=0 cold_compile tmp/w0 > $OUT/compile_tile.log 2>&1; compile_summary $OUT/compile_tile.log
bench() { bench_ab AIT_STEM_ROWS "$@"; }  # label, workdir, value
el bench-model
bench rows1 tmp/w 1; bench tile1 tmp/w0 0; bench rows2 tmp/w 1; bench tile2 tmp/w0 0
el ops
timeout $(left 590) python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops \
  --all-ops --no-caller-timing --results-dir $OUT --out-name ops_rows > $OUT/ops_rows.log 2>&1
grep "^sum\|bs=\|stem" $OUT/ops_rows.log | cut -c1-140
rm -f $OUT/*.csv
(cd $OUT && tar czf results.tgz --remove-files *.json compile_*.log 2>/dev/null)
ls $OUT; el end
