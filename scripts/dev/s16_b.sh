# Session 16, device commands B and C (carry [".whl"]): GPU test files in turn, each logged
# in $OUT/gpu_<file>.log with its summary line shown, while time is left (a file starts only
# with 60 s left of 590). B: scripts/dev/s16_b.sh runtime stem resnet rows3x3 scripts;
# C: scripts/dev/s16_b.sh splitk conv_persistent depths ops.
case "${1:-}" in -h|--help|"") sed -n 1,4p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
for f in "$@"; do
  [ $(left 590) -lt 60 ] && { el "no time left for $f"; continue; }
  el "pytest $f"
  timeout $(left 590) python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_$f.py \
    2>&1 | q > $OUT/gpu_$f.log; echo "rc=$?"; tail -1 $OUT/gpu_$f.log
done
pack_results
