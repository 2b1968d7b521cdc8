"""The strip-of-rows 3x3 conv (ait/ops/conv2d/conv3x3_rows.cu, candidate rows3x3.py) on the GPU:
called through its C entry point for every epilogue against torch's fp32 conv of the same fp16
data, at ResNet's 56x56 and at odd shapes (a partial last strip, the widest W, W = 1, R = 8
rows a strip), batches 1, 3, 17 and 255; the output starts as NaN and carries a NaN guard
after it, so a pixel left out or a store past the end shows. Unsupported convs are refused.
Then through the profiler, whose own fp32 check must pass it, and whose times say where it
wins against CUTLASS."""
from __future__ import annotations

import ctypes
import zlib

import numpy as np
import pytest

from ait.backend import nvcc
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU, Activation
from ait.ops.conv2d import ConvRequest, rows3x3
from ait.tune.build import translation_units
from tests.test_gpu_splitk import AitConv2dArgs, _check, _entry

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
TOL = 1e-2  # max |y - ref| / max |ref|, as the profiler (tune.build)
# name: (h, w, batches)
SHAPES = {
    "resnet_56": (56, 56, (1, 3, 17, 255)),
    "partial_strip": (13, 56, (3,)),       # R = 4 does not divide 13
    "widest": (9, rows3x3.MAX_WIDTH, (3,)),  # R = 3
    "w28": (28, 28, (17,)),                # R = 8
    "w1": (5, 1, (3,)),                    # R = 77: one strip
    "w7": (7, 7, (17,)),
}
GUARD = 4096  # halves of NaN after the output


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    import ait

    target = ait.detect_target()
    if target.arch != 90:
        pytest.skip("the row kernel is built for sm_90a only")
    cands = [rows3x3.Conv2dRows3x3(ep) for ep in EPILOGUES]
    units = translation_units(cands)
    objs = nvcc.compile_objects(target, [u.source for u in units], desc="rows3x3 kernels")
    return ctypes.CDLL(str(nvcc.link_shared(target, objs,
                                            tmp_path_factory.mktemp("rows3x3") / "rows3x3.so")))


def _data(rng, n, h, w):
    x = rng.uniform(-1, 1, (n, h, w, 64)).astype(np.float16)
    wt = (rng.uniform(-1, 1, (64, 3, 3, 64)) / 24).astype(np.float16)
    bias = rng.uniform(-0.5, 0.5, 64).astype(np.float16)
    res = rng.uniform(-1, 1, (n, h, w, 64)).astype(np.float16)
    return {k: torch.from_numpy(v).cuda() for k, v in
            (("x", x), ("w", wt), ("bias", bias), ("residual", res))}


def _reference(d, ep, n):
    """torch's fp32 conv of the fp16 data, with the epilogue, NHWC."""
    x = d["x"][:n].float().permute(0, 3, 1, 2)
    w = d["w"].float().permute(0, 3, 1, 2)
    y = torch.nn.functional.conv2d(x, w, d["bias"].float(), padding=1).permute(0, 2, 3, 1)
    if ep.residual:
        y = y + d["residual"][:n].float()
    if ep.activation is Activation.RELU:
        y = torch.relu(y)
    return y.double().cpu().numpy()


def _args(d, ep, n, h, w, y, **over):
    a = dict(n=n, h=h, w_=w, c=64, k=64, r=3, s=3, p=h, q=w, pad_h=1, pad_w=1, stride_h=1,
             stride_w=1, dilation_h=1, dilation_w=1)
    a.update(over)
    return AitConv2dArgs(d["x"].data_ptr(), d["w"].data_ptr(), d["bias"].data_ptr(),
                         d["residual"].data_ptr() if ep.residual else None, y.data_ptr(),
                         *(a[f] for f, _ in AitConv2dArgs._fields_[5:]))


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rows3x3_against_torch(library, shape, ep):
    h, w, batches = SHAPES[shape]
    d = _data(np.random.default_rng(zlib.crc32(f"{shape} {ep.tag}".encode())), max(batches), h, w)
    fn, ws_bytes = _entry(library, rows3x3.Conv2dRows3x3(ep).name)
    stream = torch.cuda.current_stream().cuda_stream
    failures = []
    for n in batches:
        size = n * h * w * 64
        buf = torch.full((size + GUARD,), float("nan"), dtype=torch.float16, device="cuda")
        a = _args(d, ep, n, h, w, buf)
        assert ws_bytes(ctypes.byref(a)) == 0
        rc = fn(ctypes.byref(a), None, 0, stream)
        torch.cuda.synchronize()
        if rc != 0:
            failures.append(f"batch {n}: status {rc}")
            continue
        out = buf.float().cpu().numpy()
        if not np.isnan(out[size:]).all():
            failures.append(f"batch {n}: wrote past the output")
        if msg := _check(out[:size].reshape(n, h, w, 64), _reference(d, ep, n), TOL):
            failures.append(f"batch {n}: {msg}")
    assert not failures, f"{shape} {ep.tag}:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("over", [dict(c=32), dict(k=128), dict(stride_h=2, stride_w=2, p=28, q=28),
                                  dict(pad_h=0, pad_w=0, p=54, q=54), dict(w_=80, q=80),
                                  dict(dilation_h=2, dilation_w=2)], ids=str)
def test_rows3x3_refuses_what_it_does_not_take(library, over):
    d = _data(np.random.default_rng(0), 1, 56, 80)
    y = torch.full((56 * 80 * 128,), float("nan"), dtype=torch.float16, device="cuda")
    fn, _ = _entry(library, rows3x3.Conv2dRows3x3(BIAS_RELU).name)
    a = _args(d, BIAS_RELU, 1, 56, 56, y, **over)
    assert fn(ctypes.byref(a), None, 0, torch.cuda.current_stream().cuda_stream) == 1
    torch.cuda.synchronize()
    assert torch.isnan(y).all(), "a refused call wrote its output"


def test_rows3x3_in_profiler():
    """Through the profiler at ResNet's shapes (ResNet-50's bias + ReLU, ResNet-18/34's
    residual), batches 1, 3, 17, 255: status ok; prints its time beside the best CUTLASS
    kernel's."""
    import ait
    from ait.tune.candidates import all_candidates_for
    from ait.tune.select import profile_requests

    target = ait.detect_target()
    reqs = [ConvRequest.of(ep, n, 56, 56, 64, 64, 3, 3, (1, 1), (1, 1))
            for ep in (BIAS_RELU, BIAS_ADD_RELU) for n in (1, 3, 17, 255)]
    cands = {r: all_candidates_for(target, r) for r in reqs}
    assert all(any(isinstance(c, rows3x3.Conv2dRows3x3) for c in cs) for cs in cands.values())
    bad, lines = [], []
    for r, (win, _, results) in profile_requests(target, reqs, cands).items():
        ours = [res for res in results if res.name.startswith("conv2d_rows3x3")]
        if not ours or ours[0].status != "ok":
            bad.append(f"{r.describe()}: {ours[0].raw if ours else 'not run'}")
            continue
        other = min((res.ms, res.name) for res in results
                    if res.status == "ok" and res.ms and not res.name.startswith("conv2d_rows"))
        lines.append(f"{r.describe()}: rows3x3 {ours[0].ms * 1e3:.1f} us, best other "
                     f"{other[0] * 1e3:.1f} us ({other[1]}), winner {win.name}")
    print("\n".join(lines))
    assert not bad, "\n".join(bad)
