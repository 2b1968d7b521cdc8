# Session 5, device command B, right after A on the same machine (its tmp/ is kept while warm):
# the chosen variant (tmp/product.env) against torch.compile in one run, the full candidate
# set (AIT_ALL_CANDIDATES=1, same cache: only what the rules leave out is built and profiled)
# timed in the same run, per-op tables, the serving test.
case "${1:-}" in -h|--help) sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
[ -f tmp/product.env ] || { echo "no tmp/product.env: command A did not run on this machine"; exit 3; }
source tmp/product.env; echo "variant $VARIANT: AIT_SPLIT_HOPPER=$AIT_SPLIT_HOPPER W=$W"
el bench-ait
timeout 120 python3 benchmark_ait.py --workdir $W --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_final 2>&1 | grep '\[ait\]' | grep -v wrote | tail -12
el bench-pt
timeout 170 python3 benchmark_pt.py --batch-size 1,8,32,128,256 --variants cl_graph,compile_graph --results-dir $OUT --out-name pt_final 2>&1 | grep '\[pt\] bs=' | tail -10
el full-set
AIT_ALL_CANDIDATES=1 cold_compile tmp/w_full > $OUT/compile_full.log 2>&1
grep 'profilers:\|wall\|compiled resnet' $OUT/compile_full.log | cut -c1-300 | tail -3
AIT_ALL_CANDIDATES=1 timeout 90 python3 benchmark_ait.py --workdir tmp/w_full --batch-size 1,8,32,128,256 --results-dir $OUT --out-name allcand 2>&1 | grep '\[ait\] bs=' | tail -5
timeout 90 python3 benchmark_ait.py --workdir $W --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ait_again 2>&1 | grep '\[ait\] bs=' | tail -5
el ops
timeout $(left 540) python3 benchmark_ait.py --workdir $W --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops > $OUT/ops.log 2>&1; grep "^sum\|^stem\|bs=" $OUT/ops.log | head
el serve
timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_serve_gpu.py -rA 2>&1 | q > $OUT/pytest_serve.log; grep -i "passed\|failed\|error" $OUT/pytest_serve.log | grep -v "^PASSED" | tail -3
cp $AIT_CACHE_DIR/profile.sqlite $OUT/ 2>/dev/null
rm -f $OUT/*.csv; (cd $OUT && tar czf results.tgz --remove-files *.json *.sqlite 2>/dev/null); ls $OUT; el end
