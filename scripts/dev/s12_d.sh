# Session 12, device command D (carry [".whl"]): the GPU tests of the kernels whose PTX helpers
# moved into ait/backend/include/ait_sm90.h (the 3x3 row conv, both stem kernels). Logs in
# $OUT/results.tgz. About 280 s.
case "${1:-}" in -h|--help) sed -n 1,3p "$0"; exit 0 ;; esac
source scripts/dev/device_prelude.sh
for f in test_gpu_rows3x3.py test_gpu_stem.py; do
  el "pytest $f"; log=$OUT/pytest_$(basename $f .py).log
  timeout $(left 470) python3 -m pytest -q -p no:cacheprovider -m gpu tests/$f -rA 2>&1 | q > $log
  echo "rc=$?"; tail -1 $log
done
(cd $OUT && tar czf results.tgz --remove-files *.log)
el end
