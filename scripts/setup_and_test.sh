#!/usr/bin/env bash
# One command, fresh machine: make a virtual environment, install the pinned dependencies
# and the project, run the test suite. GPU tests run only where a GPU is visible.
#   bash scripts/setup_and_test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== running tests"
exec "${AIT_VENV:-.venv}/bin/python" -m pytest "$@"
