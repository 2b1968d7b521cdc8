"""The example scripts end to end on the GPU, as a user runs them."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.gpu_util import rel_err

pytestmark = pytest.mark.gpu
WORKDIR = os.environ.get("AIT_TEST_WORKDIR", str(ROOT / "tmp" / "tests"))


def _run(args, env=None, timeout=900):
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout, env=env)
    print(r.stdout[-3000:], r.stderr[-3000:])
    return r


def test_infer_with_torch_agrees_with_timm():
    r = _run(["infer_with_torch.py", "--model", "resnet18", "--batch-size", "4", "--max-batch",
              "256", "--workdir", WORKDIR])
    assert r.returncode == 0
    assert "top-1 agrees on every image: True" in r.stdout


def test_infer_with_numpy_without_torch(tmp_path):
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    w = tmp_path / "r18.npz"
    assert _run(["weight_utils.py", "--model", "resnet18", "--seed", "5", "--out", str(w)]
                ).returncode == 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 224, 224, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    blocker = tmp_path / "blocker" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked in this test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(blocker.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    r = _run(["infer_with_numpy.py", "--model", "resnet18", "--weights", str(w), "--input",
              str(tmp_path / "x.npy"), "--max-batch", "256", "--workdir", WORKDIR, "--save",
              str(tmp_path / "y.npy")], env=env)
    assert r.returncode == 0
    assert "image 2: class" in r.stdout and "torch was imported" not in r.stderr
    ours = np.load(tmp_path / "y.npy")

    from weight_utils import timm_resnet

    tm = timm_resnet("resnet18", seed=5)  # what `weight_utils.py --seed 5` wrote
    with torch.no_grad():
        ref = tm(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    assert rel_err(ours, ref) < 1e-2
    assert (ours.argmax(1) == ref.argmax(1)).all()
