"""Whole ResNets on the GPU against timm (fp16), one dynamic-batch .so per depth."""
import copy
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.gpu_util import rel_err, run_nchw, structured_images, timm_fp32

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

WORKDIR = os.environ.get("AIT_TEST_WORKDIR", str(ROOT / "tmp" / "tests"))


@pytest.fixture(scope="module", params=[("resnet18", "space_to_depth"),
                                        ("resnet50", "space_to_depth"), ("resnet50", "padded")],
                ids=["resnet18", "resnet50", "resnet50-padded"])
def compiled(request):
    from modeling.build import compile_resnet
    from modeling.resnet import create_resnet
    from weight_utils import timm_resnet, timm_to_ait

    name, stem = request.param
    tm = timm_resnet(name)
    model = compile_resnet(name, (1, 256), WORKDIR, stem=stem)
    model.set_many_constants(timm_to_ait(tm, create_resnet(name, stem=stem)))
    model.fold_constants()
    yield name, model, tm.cuda()
    model.close()


def test_matches_timm_fp16_batch32(compiled):
    name, model, tm = compiled
    x = structured_images(32)
    ref = timm_fp32(tm, x)
    with torch.no_grad():
        torch_fp16 = copy.deepcopy(tm).half()(x).float()
    out = run_nchw(model, x)
    err = rel_err(out.cpu().numpy(), ref.cpu().numpy())
    err_torch = rel_err(torch_fp16.cpu().numpy(), ref.cpu().numpy())
    top = ref.topk(2, dim=1).values
    print(f"{name} batch 32: relative error {err:.2e} (PyTorch fp16: {err_torch:.2e}); "
          f"smallest top-1 margin {float((top[:, 0] - top[:, 1]).min()):.3g}")
    assert err < 1e-2
    assert (out.argmax(1) == ref.argmax(1)).all()


def _kernels_at(model, n) -> str:
    """The kernel each op runs at batch n (for failure messages: choices come from profiling
    and can differ between machines)."""
    import bench_utils as bu

    return "\n  ".join(f"{op['name']}: {bu.kernel_at(op, n)}" for op in model.meta["ops"]
                        if op.get("kernels"))


@pytest.mark.parametrize("n", [1, 7, 32, 256])
def test_dynamic_batch(compiled, n):
    name, model, tm = compiled
    x = structured_images(n, seed=n)
    ref = timm_fp32(tm, x)
    out = run_nchw(model, x)
    err = rel_err(out.cpu().numpy(), ref.cpu().numpy())
    same = out.argmax(1) == ref.argmax(1)
    # A near-tie in fp32 (top-2 margin under 1% of the image's largest logit) may flip with
    # fp16 rounding; every image with a clear winner must keep it.
    top2 = ref.topk(2, dim=1).values
    margin = ((top2[:, 0] - top2[:, 1]) / ref.abs().amax(dim=1)).cpu()
    clear = margin > 1e-2
    flipped = [(i, round(float(margin[i]), 5)) for i in (~same).nonzero().flatten().tolist()]
    per_image = ((out - ref).norm(dim=1) / ref.norm(dim=1)).cpu().numpy()
    worst = per_image.argsort()[::-1][:5]
    msg = (f"{name} batch {n}: relative error {err:.3e}, top-1 agreement "
           f"{float(same.float().mean()):.4f}, flipped (image, fp32 margin) {flipped}, worst "
           f"images {worst.tolist()} ({per_image[worst].round(4).tolist()}); kernels:\n  "
           f"{_kernels_at(model, n)}")
    assert err < 1e-2, msg
    assert bool(same.cpu()[clear].all()), msg
    assert float(same.float().mean()) >= 0.9, msg


def test_graph_mode_equals_eager(compiled):
    _, model, _ = compiled
    for n in (3, 64):
        x = structured_images(n, seed=10 + n)
        eager = run_nchw(model, x)
        graph = run_nchw(model, x, graph_mode=True)
        graph2 = run_nchw(model, x, graph_mode=True)  # replay
        assert torch.equal(eager, graph) and torch.equal(graph, graph2)


def test_numpy_path_without_torch(compiled, tmp_path):
    """The numpy path runs in a process where `import torch` fails."""
    name, model, _ = compiled
    if name != "resnet18":
        pytest.skip("one depth is enough")
    from modeling.resnet import create_resnet
    from weight_utils import save_weights

    blocker = tmp_path / "blocker" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked in this test')\n")
    from weight_utils import timm_resnet, timm_to_ait

    tm = timm_resnet(name)
    params = timm_to_ait(tm, create_resnet(name))
    wfile = save_weights(params, tmp_path / "w.npz")
    x = np.random.default_rng(0).standard_normal((2, 224, 224, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = f"""
import sys, numpy as np
sys.path.insert(0, {str(ROOT)!r})
try:
    import torch
    raise SystemExit("torch imported")
except ImportError:
    pass
from ait import Model
from weight_utils import load_weights
m = Model({str(model.lib_path)!r})
m.set_many_constants(load_weights({str(wfile)!r}))
m.fold_constants()
x = m.numpy_to_ait_data(np.load({str(tmp_path / 'x.npy')!r}))
y = m.allocate_ait_data((2, 1000))
m.run([x], [y])
np.save({str(tmp_path / 'y.npy')!r}, m.ait_data_to_numpy(y).astype(np.float32))
assert 'torch' not in sys.modules
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(blocker.parent), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ours = np.load(tmp_path / "y.npy")
    ref = timm_fp32(tm.cuda(), torch.from_numpy(x).permute(0, 3, 1, 2).cuda())
    assert rel_err(ours, ref.cpu().numpy()) < 1e-2
