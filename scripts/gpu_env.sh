# Source on a GPU machine that has its own torch/timm but not this project's other
# dependencies: installs wheels carried in .whl/ (e.g. nvidia-cutlass) into /tmp/site and
# puts them and the repository on PYTHONPATH.   source scripts/gpu_env.sh
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || return 1
fi
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader
python3 -c "import torch, timm; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'timm', timm.__version__)"
nvcc --version | tail -1
