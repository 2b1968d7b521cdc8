#!/usr/bin/env bash
# Make the virtual environment (.venv, or $AIT_VENV) with the pinned dependencies and the
# project installed (editable). Sourced by setup_and_test.sh and setup_and_run.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${AIT_VENV:-.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PY" -m venv "$VENV"
fi
echo "== installing pinned dependencies (requirements-ci.txt) and the project"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements-ci.txt
"$VENV/bin/python" -m pip install -q --no-deps -e .
# nvcc for compiling models: a system CUDA toolkit, else the pip wheels.
if ! command -v nvcc >/dev/null 2>&1 && [ -z "${CUDA_HOME:-}" ]; then
  echo "== no nvcc on PATH: installing cuda-toolkit[nvcc,cccl]==13.0.3 wheels"
  "$VENV/bin/python" -m pip install -q "cuda-toolkit[nvcc,cccl]==13.0.3"
fi
