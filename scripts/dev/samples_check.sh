# Device command for branch profiler-stats / next-check (carry [".whl"]), best right after
# l2_persist_check.sh on the same machine (its tmp/w is the default build): a cold ResNet-50
# 1..256 compile with AIT_PROFILE_SAMPLES=10 on its own fresh cache (the default, 25, first
# when tmp/w is missing), then both models timed in turn, twice: the compile time saved
# against the model speed the fewer samples choose. About 200 s (290 s without tmp/w).
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
summary() { grep 'profilers:\|selection:\|profiling:\|processes:\|wall\|rror' "$1" | cut -c1-400 | tail -6; }
if [ ! -d tmp/w ]; then el "compile (25 samples)"; cold_compile tmp/w > $OUT/compile_s25.log 2>&1; summary $OUT/compile_s25.log; fi
el "compile (10 samples, fresh cache)"
(export AIT_CACHE_DIR=$PWD/tmp/cache_s10 AIT_PROFILE_SAMPLES=10; cold_compile tmp/w_s10) > $OUT/compile_s10.log 2>&1; summary $OUT/compile_s10.log
for i in 1 2; do
  for w in w w_s10; do
    timeout 90 python3 benchmark_ait.py --workdir tmp/$w --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ab_${w}_$i 2>&1 | grep 'bs=' | sed "s/^/$w /"
  done
done
rm -f $OUT/*.csv; ls $OUT; el end
