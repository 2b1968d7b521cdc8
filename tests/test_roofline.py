"""CPU-only: the per-op cost rules (FLOPs, least bytes) that the model's metadata carries, and
the roofline table benchmark_ait.py --profile-ops builds from them."""
import numpy as np
import pytest

import bench_utils as bu
from ait import IntVar, Tensor, nn
from ait.backend.codegen import op_cost
from ait.compiler import build_graph
from ait.ops.elementwise import relu


class _Net(nn.Module):
    def __init__(self, h, c_in, c_out, classes):
        super().__init__()
        self.h = h
        self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.fc = nn.Linear(c_out, classes)

    def forward(self, x):
        y = relu(self.conv(x))
        return self.fc(nn.Flatten()(nn.AvgPool2d(self.h, 1)(y)))


def _graph(batch=(1, 64), h=16, c_in=8, c_out=16, classes=10):
    net = _Net(h, c_in, c_out, classes)
    net.name_parameter_tensor()
    x = Tensor([IntVar(list(batch), "batch"), h, h, c_in], name="x", is_input=True)
    z = net(x)
    z.name = "logits"
    return build_graph(z)


def test_costs_are_exact_and_linear_in_the_batch():
    rng = np.random.default_rng(0)
    h, c_in, c_out, classes = (int(v) for v in rng.integers(2, 9, 4) * 4)
    g = _graph(h=h, c_in=c_in, c_out=c_out, classes=classes)
    dims = g.dynamic_dims()
    costs = {op.kind: op_cost(op, dims) for op in g.ops}
    for n in (1, 3, 17):
        at = {k: (c["flops"][0] + c["flops"][1] * n, c["bytes"][0] + c["bytes"][1] * n)
              for k, c in costs.items()}
        conv_flops, conv_bytes = at["conv2d"]
        assert conv_flops == 2 * n * h * h * c_out * 9 * c_in
        # x, w, bias read; y written (fp16)
        assert conv_bytes == 2 * (n * h * h * c_in + c_out * 9 * c_in + c_out + n * h * h * c_out)
        gemm_flops, gemm_bytes = at["gemm_rcr"]
        assert gemm_flops == 2 * n * c_out * classes
        assert gemm_bytes == 2 * (n * c_out + classes * c_out + classes + n * classes)
        assert at["reshape"] == (0, 0)  # a view: no kernel, no traffic


def test_roofline_takes_the_larger_floor_and_the_chosen_kernel():
    ops = [
        {"name": "conv", "kind": "conv2d", "kernels": {"upper": [4, 64], "names": ["k4", "k64"]},
         "cost": {"flops": [0, 2_000_000_000], "bytes": [1000, 10_000]}},
        {"name": "pool", "kind": "pool2d", "kernels": None,
         "cost": {"flops": [0, 10], "bytes": [0, 4_000_000]}},
        {"name": "view", "kind": "reshape", "kernels": None,
         "cost": {"flops": [0, 0], "bytes": [0, 0]}},
    ]
    peaks = bu.Peaks(1e12, 1e11, "given")
    rows, sums = bu.roofline(ops, {"conv": 50.0, "pool": 1.0, "view": 0.001}, 8, peaks)
    assert [r["op"] for r in rows] == ["conv", "pool"]
    conv, pool = rows
    assert conv["kernel"] == "k64" and pool["kernel"] is None
    assert conv["floor_ms"] == pytest.approx(16e9 / 1e12 * 1e3)      # compute bound: 16 ms
    assert pool["floor_ms"] == pytest.approx(32e6 / 1e11 * 1e3)      # memory bound: 0.32 ms
    assert conv["efficiency"] == pytest.approx(16 / 50)
    assert sums["floor_ms"] == pytest.approx(16.32) and sums["ms"] == pytest.approx(51.0)
    assert bu.kernel_at(ops[0], 3) == "k4" and bu.kernel_at(ops[0], 500) == "k64"
    table = bu.format_roofline(rows, sums, 8)
    assert "conv" in table and "k64" in table and "(own kernel)" in table and "32%" in table


def test_metadata_of_a_resnet_carries_every_ops_cost():
    from ait.backend.codegen import metadata
    from modeling.resnet import build_resnet_graph

    _, y = build_resnet_graph("resnet18", (1, 8), 64, 10)
    g = build_graph(y)
    meta = metadata(g, "r18", {}, {})
    assert all(op["cost"] is not None for op in meta["ops"])
    total = sum(op["cost"]["flops"][1] for op in meta["ops"] if op["kind"] == "conv2d")
    # resnet18 at 64x64: about 1.82 GMAC at 224 px, scaled by (64/224)^2
    assert 2 * 1.8e9 * (64 / 224) ** 2 * 0.9 < total < 2 * 1.9e9 * (64 / 224) ** 2 * 1.1
