# A/B of main (carried as tmp/main_tree.tar: git archive -o tmp/main_tree.tar main) against this tree in one device command: cold compile each, bench 1..256, per-op at 1 and 256
source scripts/dev/device_prelude.sh env.log
mkdir -p tmp/A && tar -xf tmp/main_tree.tar -C tmp/A
run() { # $1 label $2 dir
  ( cd $2 && export AIT_CACHE_DIR=$PWD/tmp/cache && el "compile $1" &&
    cold_compile tmp/w | grep 'profilers:\|selection:\|wall' | tee $OUT/compile_$1.log
    timeout 100 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ait_$1 2>&1 | grep 'bs=' | tee $OUT/bench_$1.log
    timeout 60 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,256 --profile-ops --all-ops --no-caller-timing --results-dir $OUT --out-name ops_$1 > $OUT/ops_$1.log 2>&1; grep "^sum\|^stem" $OUT/ops_$1.log )
}
run B .
run A tmp/A
el "bench B again"
timeout 100 python3 benchmark_ait.py --workdir tmp/w --batch-size 1,8,32,128,256 --no-caller-timing --results-dir $OUT --out-name ait_B2 2>&1 | grep 'bs='
rm -f $OUT/*.csv; el end
