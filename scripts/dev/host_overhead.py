"""Where the host time of one ResNet-50 call goes, graph and eager mode: Python's part
(Model._prepare_tensors), the C call alone, and torch's replay of a 58-kernel CUDA graph as the
floor of one graph launch. Each figure is the median of 400 calls, each on an idle GPU.
Needs a CUDA GPU; run from the repository root:  python scripts/dev/host_overhead.py"""
import argparse
import statistics
import sys
import time

argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
import torch  # noqa: E402

sys.path.insert(0, ".")
from modeling.build import compile_resnet  # noqa: E402
from modeling.resnet import create_resnet  # noqa: E402
from weight_utils import timm_resnet, timm_to_ait  # noqa: E402


def med(fn, n=400, warm=50):
    ts = []
    for i in range(n + warm):
        torch.cuda.synchronize()
        t0 = time.perf_counter(); fn(); t1 = time.perf_counter()
        if i >= warm: ts.append((t1 - t0) * 1e6)
    torch.cuda.synchronize()
    return statistics.median(ts)

m = compile_resnet("resnet50", (1, 256), "tmp/tests")
tm = timm_resnet("resnet50")
m.set_many_constants(timm_to_ait(tm, create_resnet("resnet50")))
L, h = m._lib, m._handle
# floor: torch graph of 58 tiny kernels
z = torch.zeros(16, device="cuda")
g = torch.cuda.CUDAGraph()
s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(s):
    for _ in range(3): z.add_(1)
torch.cuda.current_stream().wait_stream(s)
with torch.cuda.graph(g):
    for _ in range(58): z.add_(1)
print(f"torch replay of a 58-kernel graph: {med(g.replay):.1f} us")
for bs in (1, 8, 256):
    x = torch.randn(bs, 224, 224, 3, device="cuda", dtype=torch.float16)
    y = torch.empty(bs, 1000, device="cuda", dtype=torch.float16)
    for graph in (1, 0):
        m.run_with_tensors([x], [y], graph_mode=bool(graph))
        call = m._prepare_tensors([x], [y]); st = call.stream()
        c_only = med(lambda: L.ait_model_run(h, call.ins, call.outs, call.dims, graph, st, 0))
        py_only = med(lambda: m._prepare_tensors([x], [y]))
        full = med(lambda: m.run_with_tensors([x], [y], graph_mode=bool(graph), sync=False))
        print(f"batch {bs} {'graph' if graph else 'eager'}: full {full:.1f} us = python "
              f"{py_only:.1f} + C {c_only:.1f}", flush=True)
