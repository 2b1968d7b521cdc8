#!/usr/bin/env bash
# One command, fresh machine: set up, then run the main job. With a GPU: compile ResNet-50
# (dynamic batch 1..256, kernels chosen by profiling) and compare it with timm on an image
# (infer_with_torch.py). Without a GPU: run the compiler's ResNet-50 graph on the numpy
# reference executor against timm in fp32 (infer_with_torch.py --cpu-reference), printing the
# top-5 of both and the relative error of the logits.
#   bash scripts/setup_and_run.sh [infer_with_torch.py args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${AIT_VENV:-.venv}/bin/python
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  exec "$PY" infer_with_torch.py --max-batch 256 "$@"
fi
echo "== no GPU visible: ResNet-50 on the CPU reference executor vs timm (fp32)"
exec "$PY" infer_with_torch.py --cpu-reference "$@"
