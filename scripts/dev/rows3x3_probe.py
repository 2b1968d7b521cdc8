"""Where the strip-of-rows 3x3 conv (ait/ops/conv2d/conv3x3_rows.cu) spends its time: the kernel
alone (bias + ReLU, 56x56, 64 -> 64) timed with CUDA events in diagnostic variants made by text
substitution of its source, each built into its own .so:
  base      the kernel as it is
  noload    no patch load (the wgmma read stale shared memory)
  nostore   no output store (the staging still runs)
  mma       neither: the wgmma and the staging alone
  aligned   as mma, every B start and plane 128-byte aligned (no tap shift; wrong results)
  wg2       at most 2 warpgroups a CTA
The variants' outputs are wrong by design; base is checked against torch.

    PYTHONPATH=. python scripts/dev/rows3x3_probe.py [--batch 256] [--variants base mma ...]
"""
from __future__ import annotations

import argparse
import ctypes
import sys
import tempfile
from pathlib import Path

LOAD = "      cp_async16(patch + patch_bytes(c8, pr, pc, s.wp), src, in);"
STORE = "      *reinterpret_cast<uint4*>(y + o) = v;"
B_START = "desc_b0 + (b_step_bytes(t, s.wp) >> 4)"
PLANE = "constexpr int kPlaneBytes = (kPlaneUsed + 1) * 16;"
WGS = "constexpr int kMaxWarpgroups = 3;"
SUBS = {
    "base": [],
    "noload": [(LOAD, "      (void)src; (void)in;")],
    "nostore": [(STORE, "      if (v.x == 0x12345678u) *reinterpret_cast<uint4*>(y + o) = v;")],
    "aligned": [(B_START, "desc_b0 + ((2 * (t & 3) * kPlaneBytes) >> 4)"),
                (PLANE, "constexpr int kPlaneBytes = kPlaneUsed * 16;")],
    "wg2": [(WGS, "constexpr int kMaxWarpgroups = 2;")],
}
SUBS["mma"] = SUBS["noload"] + SUBS["nostore"]
SUBS["aligned"] = SUBS["mma"] + SUBS["aligned"]


def build(target, name: str, src: str, tmp: Path):
    from ait.backend import nvcc

    path = tmp / f"{name}.cu"
    path.write_text(src)
    obj = nvcc.compile_objects(target, [nvcc.Source(f"rows3x3_{name}", src, 1.0)],
                               desc=f"rows3x3 {name}")
    return ctypes.CDLL(str(nvcc.link_shared(target, obj, tmp / f"{name}.so")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--variants", nargs="+", default=list(SUBS), choices=list(SUBS))
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import torch

    import ait
    from ait.ir.epilogue import BIAS_RELU
    from ait.ops.conv2d import rows3x3
    from tests.test_gpu_splitk import AitConv2dArgs

    target = ait.detect_target()
    cand = rows3x3.Conv2dRows3x3(BIAS_RELU)
    n, h, w = args.batch, 56, 56
    x = torch.randn(n, h, w, 64, device="cuda").half()
    wt = (torch.randn(64, 3, 3, 64, device="cuda") / 24).half()
    b = torch.randn(64, device="cuda").half()
    y = torch.empty(n, h, w, 64, device="cuda", dtype=torch.half)
    a = AitConv2dArgs(x.data_ptr(), wt.data_ptr(), b.data_ptr(), None, y.data_ptr(),
                      n, h, w, 64, 64, 3, 3, h, w, 1, 1, 1, 1, 1, 1)
    stream = torch.cuda.current_stream().cuda_stream
    ref = torch.relu(torch.nn.functional.conv2d(x.float().permute(0, 3, 1, 2),
                                                wt.float().permute(0, 3, 1, 2), b.float(),
                                                padding=1)).permute(0, 2, 3, 1)
    with tempfile.TemporaryDirectory() as d:
        for v in args.variants:
            src = cand.render()
            for old, new in SUBS[v]:
                assert old in src, f"{v}: {old!r} not in the source"
                src = src.replace(old, new)
            fn = getattr(build(target, v, src, Path(d)), cand.name)
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.POINTER(AitConv2dArgs), ctypes.c_void_p, ctypes.c_size_t,
                           ctypes.c_void_p]
            for _ in range(3):
                assert fn(ctypes.byref(a), None, 0, stream) == 0
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(args.iters):
                fn(ctypes.byref(a), None, 0, stream)
            end.record()
            torch.cuda.synchronize()
            us = 1e3 * start.elapsed_time(end) / args.iters
            note = ""
            if v in ("base", "wg2"):
                err = float((y.float() - ref).abs().max() / ref.abs().max())
                note = f"  max err {err:.1e} of max |ref|"
            print(f"{v:8s} batch {n}: {us:7.1f} us{note}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
