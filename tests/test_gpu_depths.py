"""The other ResNet depths on the GPU against timm: ResNet-34 (basic blocks, the ResNet-18
shapes), ResNet-101 / 152 (the ResNet-50 shapes, 23 and 36 blocks in layer 3) and
wide_resnet50_2 (bottleneck width 128: shapes of their own). One .so per depth for batch
1..64, run at batches 1, 5 and 64 (a bucket's edge, between two buckets, the top), in eager
and graph mode. test_gpu_resnet.py covers ResNet-18 and ResNet-50 in depth."""
import os

import pytest

from tests.conftest import ROOT
from tests.gpu_util import rel_err, run_nchw, structured_images, timm_fp32

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

WORKDIR = os.environ.get("AIT_TEST_WORKDIR", str(ROOT / "tmp" / "tests"))
DEPTHS = ["resnet34", "resnet101", "resnet152", "wide_resnet50_2"]


@pytest.fixture(scope="module", params=DEPTHS)
def compiled(request):
    from modeling.build import compile_resnet
    from modeling.resnet import create_resnet
    from weight_utils import timm_resnet, timm_to_ait

    name = request.param
    tm = timm_resnet(name, seed=1)
    model = compile_resnet(name, (1, 64), WORKDIR)
    model.set_many_constants(timm_to_ait(tm, create_resnet(name)))
    model.fold_constants()
    yield name, model, tm.cuda()
    model.close()


def test_matches_timm(compiled):
    name, model, tm = compiled
    for n in (1, 5, 64):
        x = structured_images(n, seed=100 + n)
        ref = timm_fp32(tm, x)
        eager = run_nchw(model, x)
        graph = run_nchw(model, x, graph_mode=True)
        err = rel_err(eager.cpu().numpy(), ref.cpu().numpy())
        top2 = ref.topk(2, dim=1).values
        clear = ((top2[:, 0] - top2[:, 1]) / ref.abs().amax(dim=1)) > 1e-2
        same = eager.argmax(1) == ref.argmax(1)
        msg = (f"{name} batch {n}: relative error {err:.3e} against timm fp32, top-1 "
               f"agreement {float(same.float().mean()):.3f}")
        print(msg)
        assert err < 1e-2, msg
        assert bool(same[clear].all()), msg
        assert torch.equal(eager, graph), f"{name} batch {n}: graph mode differs from eager"
