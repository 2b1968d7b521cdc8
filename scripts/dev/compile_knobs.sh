# Device command for issue 11 (carry [".whl"]): cold ResNet-50 1..256 compiles on one machine,
# each with its own fresh cache, under the build knobs that shape the heavy compile wave:
# the default (15 jobs on the 16-core host, up to 4 kernels per unit), AIT_COMPILE_JOBS=18
# (every split Hopper pass in one wave), AIT_COMPILE_JOBS=20, and AIT_KERNELS_PER_TU=3 (the
# 4-kernel GEMM unit as 3 + 1). The build lines of each under $OUT/compile_<label>.log. ~330 s.
case "${1:-}" in -h|--help) sed -n 1,5p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
knob() { # $1 label, then VAR=value settings
  local label=$1; shift
  el "compile $label ($*)"
  (export AIT_CACHE_DIR=$PWD/tmp/cache_$label "$@"; cold_compile tmp/w_$label) > $OUT/compile_$label.log 2>&1
  grep 'profilers:\|selection:\|wall' $OUT/compile_$label.log | cut -c1-260
}
knob default AIT_TEST_KNOB=none
knob jobs18 AIT_COMPILE_JOBS=18
knob jobs20 AIT_COMPILE_JOBS=20
knob tu3 AIT_KERNELS_PER_TU=3
ls $OUT; el end
