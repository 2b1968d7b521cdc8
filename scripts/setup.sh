#!/usr/bin/env bash
# Make the virtual environment (.venv, or $AIT_VENV) with the pinned dependencies and the
# project installed (editable). Sourced by setup_and_test.sh and setup_and_run.sh.
# A second run with nothing changed takes a second: the installs are recorded in
# $VENV/.ait-setup-stamp (a hash of requirements-ci.txt, pyproject.toml, the python and the
# nvcc choice) and skipped while it matches. AIT_SETUP_FORCE=1 installs again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${AIT_VENV:-.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PY" -m venv "$VENV"
fi
# nvcc for compiling models: a system CUDA toolkit, else the pip wheels.
NEED_NVCC_WHEEL=0
if ! command -v nvcc >/dev/null 2>&1 && [ -z "${CUDA_HOME:-}" ]; then
  NEED_NVCC_WHEEL=1
fi
STAMP="$VENV/.ait-setup-stamp"
WANT=$({ cat requirements-ci.txt pyproject.toml; "$VENV/bin/python" -VV;
         echo "nvcc-wheel=$NEED_NVCC_WHEEL"; } | sha256sum | cut -d' ' -f1)
if [ "${AIT_SETUP_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "== $VENV is up to date (requirements-ci.txt and pyproject.toml unchanged; AIT_SETUP_FORCE=1 reinstalls)"
  exit 0
fi
rm -f "$STAMP"
echo "== installing pinned dependencies (requirements-ci.txt) and the project"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements-ci.txt
"$VENV/bin/python" -m pip install -q --no-deps -e .
if [ "$NEED_NVCC_WHEEL" = 1 ]; then
  echo "== no nvcc on PATH: installing cuda-toolkit[nvcc,cccl]==13.0.3 wheels"
  "$VENV/bin/python" -m pip install -q "cuda-toolkit[nvcc,cccl]==13.0.3"
fi
echo "$WANT" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
echo "== $VENV ready: run scripts with $VENV/bin/python, or 'source $VENV/bin/activate' first"
