# Device command of the 2026-12-01 (second) session, kept for the results in docs/results/h200-2026-12-01b.
# Run on the GPU machine from the repository root with .whl and tmp/dev carried (see the README there).
case "${1:-}" in -h|--help) sed -n 1,2p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh compile.log
date
cold_compile tmp/tests | grep -v 'rejected\|left out' | tail -12 | tee -a $OUT/compile.log
cp $AIT_CACHE_DIR/profile.sqlite $OUT/
date
for pdl in 0 1; do AIT_PDL=$pdl timeout 150 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,8,32,128,256 --results-dir $OUT --out-name ait_pdl$pdl 2>&1 | grep '\[ait\]' | grep -v 'wrote\|warning: out' | tail -14; done
date
AIT_PDL=1 timeout 150 python3 benchmark_ait.py --workdir tmp/tests --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ait_ops > $OUT/ops.log 2>&1; grep -c . $OUT/ops.log; grep -A16 "roofline\b\|TOTAL\|sum" $OUT/ops.log | head -60
date
timeout 220 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_runtime.py -rA 2>&1 | q > $OUT/pytest_runtime.log; grep -i "passed\|failed\|error" $OUT/pytest_runtime.log | tail -15
rm -f $OUT/*.csv; ls $OUT; date
