"""The persistent cooperative Hopper conv (conv2d_3xp_*, ait_sm90_conv_persistent.hpp) on
the GPU: every tile and epilogue checked by the profiler against its reference kernel on
random data (status "ok", never wrong / crashed / timeout), across odd shapes, a stride-2
3x3, batch 1 and more tiles than SMs; then inside a model (AIT_FIXED_KERNEL=first takes
the persistent kernel) against the numpy reference, graph and eager, batch buckets 1..17.
Prints its time beside the non-persistent 3.x kernels' for the ResNet-50 layer-1 conv."""
import numpy as np
import pytest

import ait
from ait import IntVar, Tensor, nn
from tests.gpu_util import conv_candidates_first, random_params, rel_err

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def target():
    t = ait.detect_target()
    if t.arch != 90:
        pytest.skip("the persistent conv is a Hopper (sm_90a) kernel")
    return t


SHAPES = [  # n, h, w, c, k, pad, stride
    (256, 56, 56, 64, 64, (1, 1), (1, 1)),   # ResNet-50 layer 1, many tiles per CTA
    (3, 56, 56, 64, 64, (1, 1), (1, 1)),
    (17, 56, 56, 128, 128, (1, 1), (2, 2)),  # layer 2's first 3x3
    (1, 7, 7, 512, 512, (1, 1), (1, 1)),     # fewer tiles than SMs
    (5, 9, 11, 64, 192, (1, 1), (1, 1)),     # odd spatial size, N tile partly used
]


def test_every_tile_and_epilogue_is_right_and_timed(target):
    from ait.ir.epilogue import BIAS, BIAS_ADD_RELU, BIAS_RELU
    from ait.ops.conv2d import ConvRequest
    from ait.ops.conv2d.cutlass3x import Conv2dCutlass3x, Conv2dCutlass3xPersistent
    from ait.tune.candidates import all_candidates_for
    from ait.tune.select import profile_requests

    cands = {}
    for i, (n, h, w, c, k, pad, stride) in enumerate(SHAPES):
        for ep in ((BIAS_RELU, BIAS, BIAS_ADD_RELU) if i == 1 else (BIAS_RELU,)):
            if ep is BIAS_ADD_RELU and stride != (1, 1):
                continue
            r = ConvRequest.of(ep, n, h, w, c, k, 3, 3, pad, stride)
            every = all_candidates_for(target, r)
            mine = [x for x in every if isinstance(x, Conv2dCutlass3xPersistent)]
            assert len(mine) >= 2, r.describe()
            others = [x for x in every if type(x) is Conv2dCutlass3x][:3] if i == 0 else []
            cands[r] = [*mine, *others]
    results = profile_requests(target, list(cands), cands)
    for r, (_, _, res) in results.items():
        status = {x.name: x.status for x in res}
        for cand in cands[r]:
            assert status.get(cand.name) == "ok", (r.describe(), cand.name, status)
        print(r.describe(), {x.name: round(x.ms * 1e3, 1) for x in res if x.ms}, "us")


class Convs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2dBiasRelu(64, 64, 3, 1, 1)
        self.b = nn.Conv2dBiasAddRelu(64, 64, 3, 1, 1)

    def forward(self, x):
        return self.b(self.a(x), x)


def test_in_a_model_against_the_reference(target, tmp_path_factory, monkeypatch):
    from ait.ops.conv2d.cutlass3x import Conv2dCutlass3xPersistent

    conv_candidates_first(monkeypatch, lambda c: isinstance(c, Conv2dCutlass3xPersistent),
                          "a 3x3 conv must get the persistent candidates", limit=1)
    m = Convs()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 17], "n"), 20, 20, 64], name="x", is_input=True)
    y = m(x)
    model = ait.compile_model(y, target, tmp_path_factory.mktemp("pconv"), "pconv")
    kernels = [name for op in model.meta["ops"] if op.get("kernels")
               for name in op["kernels"]["names"]]
    assert kernels and all(name.startswith("conv2d_3xp_") for name in kernels), kernels
    params = random_params(m, seed=3)
    model.set_many_constants(params)
    model.fold_constants()
    g = ait.build_graph(y)
    rng = np.random.default_rng(2)
    for n in (1, 3, 8, 17):
        xs = rng.standard_normal((n, 20, 20, 64)).astype(np.float16)
        ref = ait.run_reference(g, {"x": xs}, params)[g.tensor_for(y).name]
        xt = torch.from_numpy(xs).cuda()
        for graph_mode in (False, True):
            out = torch.empty(ref.shape, dtype=torch.float16, device="cuda")
            model.run_with_tensors([xt], [out], graph_mode=graph_mode)
            err = rel_err(out.float().cpu().numpy(), ref)
            assert err < 1e-2, f"batch {n} graph_mode={graph_mode}: relative error {err:.2e}"
    model.close()
