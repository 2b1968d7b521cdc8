"""Parallel split-K conv2d candidates on the GPU: every one (pruned or not) called through its
C entry point against the numpy reference (Conv2d.reference) for ResNet-50's layer 3 / 4
convs and odd shapes, every epilogue, batches 1, 3, 8; then through the profiler, whose own
fp32 check must pass them. Workspace and output start as NaN: a slice that leaves part of its
partials unwritten, or an output element left out, shows."""
from __future__ import annotations

import ctypes
import zlib

import numpy as np
import pytest

from ait.backend import nvcc
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import splitk
from ait.ops.conv2d.op import Conv2d, conv_out_size
from ait.ops.conv2d import ConvRequest
from ait.tune.build import translation_units
from ait.tune.candidates import all_candidates_for

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
BATCHES = (1, 3, 8)
TOL = {"f32": 1e-2, "f16": 5e-2}  # max |y - ref| / max |ref|, as the profiler (tune.build)
# name: (h, w, c, k, r = s, stride); pad r // 2
SHAPES = {
    "l3_3x3": (14, 14, 256, 256, 3, 1),
    "l3_3x3_s2": (28, 28, 256, 256, 3, 2),
    "l4_3x3": (7, 7, 512, 512, 3, 1),
    "l3_1x1_reduce": (14, 14, 1024, 256, 1, 1),
    "l3_1x1_expand": (14, 14, 256, 1024, 1, 1),
    "l4_1x1_reduce": (7, 7, 2048, 512, 1, 1),
    "l4_1x1_expand": (7, 7, 512, 2048, 1, 1),
    "odd_3x3_s2_k40": (9, 11, 128, 40, 3, 2),   # partial M and N tiles
    "odd_1x1_k44": (6, 6, 256, 44, 1, 1),       # 4-wide output vectors
    "odd_3x3_k42": (5, 7, 64, 42, 3, 1),        # 2-wide output vectors
}


class AitConv2dArgs(ctypes.Structure):  # include/ait_abi.h
    _fields_ = [("x", ctypes.c_void_p), ("w", ctypes.c_void_p), ("bias", ctypes.c_void_p),
                ("residual", ctypes.c_void_p), ("y", ctypes.c_void_p)] + [
        (f, ctypes.c_int) for f in ("n", "h", "w_", "c", "k", "r", "s", "p", "q", "pad_h",
                                    "pad_w", "stride_h", "stride_w", "dilation_h",
                                    "dilation_w")]


def request(ep, n, shape) -> ConvRequest:
    h, w, c, k, r, stride = shape
    return ConvRequest.of(ep, n, h, w, c, k, r, r, (r // 2, r // 2), (stride, stride))


def split_k_candidates(target, req):
    return [c for c in all_candidates_for(target, req) if isinstance(c, splitk.Conv2dSplitK)]


@pytest.fixture(scope="module")
def target():
    import ait

    return ait.detect_target()


@pytest.fixture(scope="module")
def library(target, tmp_path_factory):
    """Every split-K candidate of SHAPES x EPILOGUES, compiled in shared units, one .so."""
    cands = {c.name: c for ep in EPILOGUES for shape in SHAPES.values()
             for c in split_k_candidates(target, request(ep, 1, shape))}
    units = translation_units(list(cands.values()))
    objs = nvcc.compile_objects(target, [u.source for u in units], desc="split-K kernels")
    lib = ctypes.CDLL(str(nvcc.link_shared(target, objs,
                                           tmp_path_factory.mktemp("splitk") / "splitk.so")))
    return lib


def _entry(lib, name):
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.POINTER(AitConv2dArgs), ctypes.c_void_p,
                                             ctypes.c_size_t, ctypes.c_void_p]
    ws = getattr(lib, f"{name}_workspace_bytes")
    ws.restype, ws.argtypes = ctypes.c_size_t, [ctypes.POINTER(AitConv2dArgs)]
    return fn, ws


def _where(err: np.ndarray) -> str:
    i = np.unravel_index(np.nanargmax(err), err.shape)
    return f"(n, p, q, k) = {tuple(int(v) for v in i)}"


def _check(y: np.ndarray, ref: np.ndarray, tol: float) -> str | None:
    """None when y matches ref; else what is wrong and where."""
    bad = ~np.isfinite(y)
    if bad.any():
        first = tuple(int(v) for v in np.argwhere(bad)[0])
        return f"{int(bad.sum())} non-finite outputs, first at (n, p, q, k) = {first}"
    err = np.abs(y.astype(np.float64) - ref)
    rel = float(err.max()) / max(float(np.abs(ref).max()), 1e-3)
    if rel <= tol:
        return None
    i = np.unravel_index(np.argmax(err), err.shape)
    return (f"max |y - ref| = {err.max():.3g} ({rel:.2e} of max |ref|, tol {tol:g}) at "
            f"{_where(err)}: y = {float(y[i]):.5g}, ref = {float(ref[i]):.5g}; "
            f"wrong (> tol * max|ref|) at {int((err > tol * np.abs(ref).max()).sum())} of "
            f"{err.size} outputs")


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_split_k_against_numpy_reference(library, target, shape, ep):
    h, w, c, k, r, stride = SHAPES[shape]
    pad = r // 2
    p, q = conv_out_size(h, r, pad, stride, 1), conv_out_size(w, r, pad, stride, 1)
    cands = split_k_candidates(target, request(ep, 1, SHAPES[shape]))
    assert cands, f"no split-K candidate for {shape}"
    rng = np.random.default_rng(zlib.crc32(f"{shape} {ep.tag}".encode()))  # reproducible
    n_max = max(BATCHES)
    x = rng.uniform(-1, 1, (n_max, h, w, c)).astype(np.float16)
    wt = rng.uniform(-1, 1, (k, r, r, c)).astype(np.float16) / np.float16(np.sqrt(r * r * c))
    wt = wt.astype(np.float16)
    bias = rng.uniform(-0.5, 0.5, k).astype(np.float16)
    residual = rng.uniform(-1, 1, (n_max, p, q, k)).astype(np.float16)
    op = Conv2d(stride, pad, 1, ep)
    dev = {name: torch.from_numpy(a).cuda() for name, a in
           (("x", x), ("w", wt), ("bias", bias), ("residual", residual))}
    stream = torch.cuda.current_stream().cuda_stream
    failures = []
    for n in BATCHES:
        (ref,) = op.reference(x[:n], wt, bias, residual[:n] if ep.residual else None)
        y = torch.empty((n, p, q, k), dtype=torch.float16, device="cuda")
        a = AitConv2dArgs(dev["x"].data_ptr(), dev["w"].data_ptr(), dev["bias"].data_ptr(),
                          dev["residual"].data_ptr() if ep.residual else None, y.data_ptr(),
                          n, h, w, c, k, r, r, p, q, pad, pad, stride, stride, 1, 1)
        for cand in cands:
            fn, ws_bytes = _entry(library, cand.name)
            need = ws_bytes(ctypes.byref(a))
            assert need == 4 * cand.split_k * n * p * q * k, cand.name
            ws = torch.full((need // 4,), float("nan"), dtype=torch.float32, device="cuda")
            y.fill_(float("nan"))
            assert fn(ctypes.byref(a), ws.data_ptr(), need - 4, stream) == 2, \
                f"{cand.name}: a short workspace must be refused (AIT_ERR_WORKSPACE)"
            rc = fn(ctypes.byref(a), ws.data_ptr(), need, stream)
            torch.cuda.synchronize()
            if rc != 0:
                failures.append(f"{cand.name} batch {n}: status {rc}")
                continue
            if msg := _check(y.float().cpu().numpy(), ref, TOL[target.acc]):
                failures.append(f"{cand.name} batch {n}: {msg}")
    assert not failures, f"{shape} {ep.tag}:\n  " + "\n  ".join(failures)


PROFILED = ("l3_3x3", "l4_3x3", "l4_1x1_reduce", "l3_1x1_expand", "odd_3x3_s2_k40")


def test_split_k_candidates_in_profiler(target):
    """Every split-K candidate through the profiler (its fp32 reference, its tolerance, the
    NaN-filled output, CUDA-graph timing): all ok."""
    from ait.tune.select import profile_requests

    cands = {request(ep, n, SHAPES[s]): None for ep in EPILOGUES for s in PROFILED
             for n in BATCHES}
    cands = {r: split_k_candidates(target, r) for r in cands}
    bad = []
    for r, (_, _, results) in profile_requests(target, list(cands), cands).items():
        got = {res.name: res for res in results}
        for cand in cands[r]:
            res = got.get(cand.name)
            if res is None or res.status != "ok":
                bad.append(f"{r.describe()} {cand.name}: "
                           f"{res.raw if res is not None else 'not run'}")
    assert not bad, "\n".join(bad)
