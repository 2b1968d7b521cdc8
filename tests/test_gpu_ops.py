"""Every op on the GPU against the numpy reference, on random data, across batch buckets
and with odd channel counts."""
import numpy as np
import pytest

import ait
from ait import IntVar, Tensor, nn
from ait.ops.elementwise import relu
from tests.gpu_util import conv_candidates_first, rel_err, random_params

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def target():
    return ait.detect_target()


def _compile_and_check(module, y, x_shape_fn, batches, target, tmp_path_factory, name,
                       tol=1e-2):
    params = random_params(module, seed=hash(name) % 1000)
    model = ait.compile_model(y, target, tmp_path_factory.mktemp(name), name)
    model.set_many_constants(params)
    model.fold_constants()
    g = ait.build_graph(y)
    rng = np.random.default_rng(1)
    for n in batches:
        x = rng.standard_normal(x_shape_fn(n)).astype(np.float16)
        ref = ait.run_reference(g, {g.inputs[0].name: x}, params)[g.tensor_for(y).name]
        xt = torch.from_numpy(x).cuda()
        out = torch.empty(ref.shape, dtype=torch.float16, device="cuda")
        model.run_with_tensors([xt], [out])
        err = rel_err(out.float().cpu().numpy(), ref)
        assert err < tol, f"{name} batch {n}: relative error {err:.2e}"
    return model


class ConvStack(nn.Module):
    """Every conv epilogue, stride 2, 1x1 and 3x3, odd-ish channel counts (24, 40)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2dBiasRelu(8, 24, 3, 1, 1)
        self.b = nn.Conv2dBias(24, 40, 1, 2, 0)
        self.c = nn.Conv2dBiasAddRelu(24, 40, 3, 2, 1)
        self.d = nn.Conv2dBiasAdd(40, 40, 1, 1, 0)

    def forward(self, x):
        y = self.a(x)
        short = self.b(y)
        z = self.c(y, short)
        return self.d(z, z)


def test_conv_epilogues_across_buckets(target, tmp_path_factory):
    m = ConvStack()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 40], "n"), 14, 14, 8], name="x", is_input=True)
    y = m(x)
    _compile_and_check(m, y, lambda n: (n, 14, 14, 8), [1, 3, 17, 40], target,
                       tmp_path_factory, "convstack")


def test_stem_pool_and_linear(target, tmp_path_factory):
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2dBiasReluFewChannels(3, 32, 7, 2, 3)
            self.fc = nn.Linear(32, 1000)

        def forward(self, x):
            y = nn.MaxPool2d(3, 2, 1)(self.stem(x))
            y = nn.AvgPool2d(8, 1)(y)
            return self.fc(nn.Flatten()(y))

    m = Head()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 32], "n"), 32, 32, 3], name="x", is_input=True)
    y = m(x)
    _compile_and_check(m, y, lambda n: (n, 32, 32, 3), [1, 5, 32], target, tmp_path_factory,
                       "head")


@pytest.mark.parametrize("fuse", ["0", "1"])
@pytest.mark.parametrize("size", [56, 45])  # odd: the last block is half padding
def test_space_to_depth_stem(size, fuse, target, tmp_path_factory, monkeypatch):
    """The space-to-depth stem against the reference: our s2d kernel + an ordinary conv + the
    pool (AIT_FUSE_STEM=0), or the fused stem kernel (tests/test_gpu_stem.py tests it more)."""
    monkeypatch.setenv("AIT_FUSE_STEM", fuse)

    class Stem(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2dBiasReluSpaceToDepth(3, 64, 7, 2, 3)

        def forward(self, x):
            return nn.MaxPool2d(3, 2, 1)(self.conv1(x))

    m = Stem()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 16], "n"), size, size, 3], name="x", is_input=True)
    y = m(x)
    _compile_and_check(m, y, lambda n: (n, size, size, 3), [1, 5, 16], target, tmp_path_factory,
                       f"s2dstem{size}_{fuse}")


def test_unfused_elementwise_and_plain_conv(target, tmp_path_factory):
    """add/relu that cannot be fused (shared input) run as their own kernels; a conv
    without a bias runs with a zero bias."""

    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(16, 16, 3, 1, 1, bias=False)

        def forward(self, x):
            c = self.a(x)
            return relu(c) + c  # c has two readers: nothing fuses

    m = Plain()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 8], "n"), 8, 8, 16], name="x", is_input=True)
    y = m(x)
    _compile_and_check(m, y, lambda n: (n, 8, 8, 16), [2, 8], target, tmp_path_factory, "plain")


def test_bad_inputs_raise_before_running(target, tmp_path_factory):
    m = nn.Conv2dBiasRelu(8, 8, 3, 1, 1)
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 4], "n"), 8, 8, 8], name="x", is_input=True)
    y = m(x)
    model = ait.compile_model(y, target, tmp_path_factory.mktemp("bad"), "bad")
    out = torch.empty(2, 8, 8, 8, dtype=torch.float16, device="cuda")
    good = torch.randn(2, 8, 8, 8, device="cuda").half()
    with pytest.raises(ait.AitError, match="never set"):
        model.run_with_tensors([good], [out])
    model.set_many_constants(random_params(m))
    cases = [
        (torch.randn(5, 8, 8, 8, device="cuda").half(), "outside the compiled range 1..4"),
        (torch.randn(2, 8, 8, 4, device="cuda").half(), r"dim 3 must be 8"),
        (torch.randn(2, 8, 8, 8, device="cuda"), "dtype torch.float32, expected torch.float16"),
        (torch.randn(2, 8, 8, 8).half(), "expected a CUDA tensor"),
        (torch.randn(2, 8, 8, 8, device="cuda").half().permute(0, 2, 1, 3), "not contiguous"),
        (torch.randn(8, 8, 8, device="cuda").half(), "rank 3"),
    ]
    for bad, msg in cases:
        with pytest.raises(ait.AitError, match=msg):
            model.run_with_tensors([bad], [out])
    with pytest.raises(ait.AitError, match="buffer has shape"):
        model.run_with_tensors([good], [torch.empty(3, 8, 8, 8, dtype=torch.float16,
                                                    device="cuda")])
    with pytest.raises(ait.AitError, match="no constant 'nope'"):
        model.set_many_constants({"nope": np.zeros(3)})
    with pytest.raises(ait.AitError, match=r"constant 'weight' has shape \(8, 3, 3, 4\)"):
        model.set_many_constants({"weight": np.zeros((8, 3, 3, 4))})
    model.run_with_tensors([good], [out])  # and it still works after all that
    model.close()
    with pytest.raises(ait.AitError, match="closed"):
        model.run_with_tensors([good], [out])


# (n, h, w, c, k) of pointwise convs: tile residues in M (n*h*w), N (k) and K (c < 64).
GEMM3X_SHAPES = [
    (1, 14, 14, 64, 256),
    (7, 14, 14, 64, 256),
    (2, 14, 14, 256, 1024),
    (3, 7, 7, 40, 72),
]


def test_conv_gemm3x_candidates_in_profiler(target):
    """Every persistent-GEMM 1x1 conv candidate, each epilogue, through the profiler (which
    checks against its fp32 reference): ok on pointwise convs; on a 3x3 or a stride-2 1x1
    conv they answer cannot_implement (never crash, never a wrong result)."""
    from ait.ops.conv2d import gemm3x
    from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
    from ait.ops.conv2d import ConvRequest
    from ait.tune import candidates_for
    from ait.tune.candidates import all_candidates_for  # every tile, pruned or not
    from ait.tune.select import profile_requests

    if target.arch != 90:
        pytest.skip("the GEMM conv candidates are Hopper (sm_90a) kernels")
    cands, expect = {}, {}
    for ep in (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU):
        for n, h, w, c, k in GEMM3X_SHAPES:
            r = ConvRequest.of(ep, n, h, w, c, k, 1, 1)
            cands[r] = [x for x in all_candidates_for(target, r)
                        if isinstance(x, gemm3x.Conv2dGemm3x)]
            assert len(cands[r]) == len(gemm3x.TILES), r.describe()
            expect[r] = "ok"
        gemm = gemm3x.candidates(ep, 64, 64, target.acc)
        for r in (ConvRequest.of(ep, 2, 14, 14, 64, 64, 3, 3, (1, 1)),
                  ConvRequest.of(ep, 2, 14, 14, 64, 64, 1, 1, (0, 0), (2, 2))):
            # a 2.x kernel that works keeps the profiler from failing the whole request
            cands[r] = [candidates_for(target, r)[0], *gemm]
            expect[r] = "cannot_implement"
    for r, (_, _, results) in profile_requests(target, list(cands), cands).items():
        status = {res.name: res.status for res in results}
        for cand in cands[r]:
            want = expect[r] if isinstance(cand, gemm3x.Conv2dGemm3x) else "ok"
            assert status.get(cand.name) == want, (r.describe(), cand.name, status)


class Pointwise(nn.Module):
    """1x1 convs with every epilogue (a bottleneck's shape, without the 3x3)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2dBiasRelu(64, 256, 1, 1, 0)
        self.b = nn.Conv2dBias(256, 64, 1, 1, 0)
        self.c = nn.Conv2dBiasAddRelu(64, 64, 1, 1, 0)
        self.d = nn.Conv2dBiasAdd(64, 256, 1, 1, 0)

    def forward(self, x):
        y = self.a(x)
        z = self.c(self.b(y), x)
        return self.d(z, y)


@pytest.mark.parametrize("tile", range(4))
def test_conv_gemm3x_in_model(tile, target, tmp_path_factory, monkeypatch):
    """The model path (codegen args, workspace, batch buckets) with a GEMM kernel forced onto
    every pointwise conv: AIT_FIXED_KERNEL=first takes the first candidate, so it goes first."""
    from ait.ops.conv2d import gemm3x

    if target.arch != 90:
        pytest.skip("the GEMM conv candidates are Hopper (sm_90a) kernels")
    if tile >= len(gemm3x.TILES):
        pytest.skip("fewer GEMM tiles")
    chosen = gemm3x.TILES[tile]
    conv_candidates_first(monkeypatch, lambda c: isinstance(c, gemm3x.Conv2dGemm3x)
                          and c.tile == chosen, "a pointwise conv must get the GEMM candidates")
    m = Pointwise()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 8], "n"), 14, 14, 64], name="x", is_input=True)
    y = m(x)
    model = _compile_and_check(m, y, lambda n: (n, 14, 14, 64), [1, 3, 8], target,
                               tmp_path_factory, f"gemm3x{tile}")
    model.close()


# (n, h, w, c, k, stride) of strided 1x1 convs: M (n*p*q), N (k) and K (c < 64) tile residues,
# odd extents (15x15 -> 8x8: the last row/column of x is sampled) and both one-sided strides.
GEMM3X_STRIDED_SHAPES = [
    (1, 14, 14, 64, 256, (2, 2)),
    (3, 14, 14, 64, 256, (2, 2)),
    (5, 14, 14, 64, 256, (2, 2)),
    (2, 15, 15, 40, 72, (2, 2)),
    (3, 14, 9, 24, 40, (1, 2)),
    (2, 9, 14, 64, 128, (3, 1)),
    (2, 28, 28, 256, 512, (2, 2)),
]


def test_conv_gemm3x_strided_candidates_in_profiler(target):
    """Every gather + GEMM candidate for strided 1x1 convs, each epilogue, through the profiler
    (the workspace it allocates from NAME_workspace_bytes, its fp32 reference, NaN-filled
    output): ok on strided 1x1 convs; on a stride-1 1x1 conv (the plain GEMM's job) and on a
    3x3 stride-2 conv they answer cannot_implement (never crash, never a wrong result)."""
    from ait.ops.conv2d import gemm3x
    from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
    from ait.ops.conv2d import ConvRequest
    from ait.tune import candidates_for
    from ait.tune.candidates import all_candidates_for  # every tile, pruned or not
    from ait.tune.select import profile_requests

    if target.arch != 90:
        pytest.skip("the GEMM conv candidates are Hopper (sm_90a) kernels")
    cands, expect = {}, {}
    for ep in (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU):
        for n, h, w, c, k, stride in GEMM3X_STRIDED_SHAPES:
            r = ConvRequest.of(ep, n, h, w, c, k, 1, 1, (0, 0), stride)
            cands[r] = [x for x in all_candidates_for(target, r)
                        if isinstance(x, gemm3x.Conv2dGemm3x) and x.strided]
            assert len(cands[r]) == len(gemm3x.STRIDED_TILES), r.describe()
            expect[r] = "ok"
        strided = gemm3x.candidates(ep, 64, 64, target.acc, strided=True)
        for r in (ConvRequest.of(ep, 2, 14, 14, 64, 64, 1, 1),
                  ConvRequest.of(ep, 2, 14, 14, 64, 64, 3, 3, (1, 1), (2, 2))):
            # a 2.x kernel that works keeps the profiler from failing the whole request
            cands[r] = [candidates_for(target, r)[0], *strided]
            expect[r] = "cannot_implement"
    for r, (_, _, results) in profile_requests(target, list(cands), cands).items():
        status = {res.name: res.status for res in results}
        for cand in cands[r]:
            want = expect[r] if isinstance(cand, gemm3x.Conv2dGemm3x) else "ok"
            assert status.get(cand.name) == want, (r.describe(), cand.name, status)


class StridedPointwise(nn.Module):
    """Stride-2 1x1 convs with every epilogue, odd extents (15x15 -> 8x8 -> 4x4)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2dBias(64, 128, 1, 2, 0)
        self.b = nn.Conv2dBiasAddRelu(64, 128, 1, 2, 0)
        self.c = nn.Conv2dBiasRelu(128, 256, 1, 2, 0)
        self.d = nn.Conv2dBiasAdd(128, 256, 1, 2, 0)

    def forward(self, x):
        z = self.b(x, self.a(x))
        return self.d(z, self.c(z))


@pytest.mark.parametrize("tile", range(2))
def test_conv_gemm3x_strided_in_model(tile, target, tmp_path_factory, monkeypatch):
    """The model path (codegen args, the kernel workspace sized at every bucket's top, batch
    buckets) with a gather + GEMM kernel forced onto every strided 1x1 conv:
    AIT_FIXED_KERNEL=first takes the first candidate, so it goes first."""
    from ait.ops.conv2d import gemm3x

    if target.arch != 90:
        pytest.skip("the GEMM conv candidates are Hopper (sm_90a) kernels")
    if tile >= len(gemm3x.STRIDED_TILES):
        pytest.skip("fewer strided GEMM tiles")
    chosen = gemm3x.STRIDED_TILES[tile]
    conv_candidates_first(
        monkeypatch,
        lambda c: isinstance(c, gemm3x.Conv2dGemm3x) and c.strided and c.tile == chosen,
        "a strided 1x1 conv must get the gather + GEMM candidates")
    m = StridedPointwise()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 8], "n"), 15, 15, 64], name="x", is_input=True)
    y = m(x)
    model = _compile_and_check(m, y, lambda n: (n, 15, 15, 64), [1, 3, 8], target,
                               tmp_path_factory, f"gemm3x_s{tile}")
    kernels = [name for op in model.meta["ops"] if op["kernels"]
               for name in op["kernels"]["names"]]
    assert len(kernels) >= 4 and all(k.startswith("conv2d_gemm3x_s_") for k in kernels), kernels
    model.close()
