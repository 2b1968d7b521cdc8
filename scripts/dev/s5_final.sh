# Session 5, final device command (main: split Hopper build, compile-time trades, residual
# epilogue subtiles): cold ResNet-50 1..256 compile on a fresh machine and cache, the model GPU
# tests, a benchmark of ait alone (torch.compile's same-run figures: command B, s5_b.sh).
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
echo "nproc=$(nproc) AIT_SPLIT_HOPPER=${AIT_SPLIT_HOPPER:-default}"
el compile
cold_compile tmp/tests > $OUT/compile.log 2>&1
grep 'profilers:\|selection:\|profiling:\|wall\|compiled resnet\|Error\|error' $OUT/compile.log | cut -c1-300 | tail -6
el tests
timeout $(left 200) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_resnet.py -x -rA 2>&1 | q > $OUT/pytest_resnet.log
echo "pytest rc=$?"; grep -i "relative error\|passed\|failed\|error" $OUT/pytest_resnet.log | grep -v "^PASSED" | tail -6
el bench
timeout $(left 228) python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ait_main > $OUT/bench.log 2>&1
grep '\[ait\] bs=' $OUT/bench.log | tail -5
rm -f $OUT/*.csv; ls $OUT; el end
