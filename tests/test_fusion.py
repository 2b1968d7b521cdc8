"""Fusion: plain Conv2d + add + relu graphs become fused conv ops and compute the same."""
import numpy as np
import pytest

import ait
from ait import IntVar, Tensor, nn
from ait.ops.elementwise import relu


class Plain(nn.Module):
    """A residual block written with plain layers only."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(8, 8, 3, 1, 1)
        self.b = nn.Conv2d(8, 8, 3, 1, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = relu(self.a(x))
        z = relu(self.b(y) + x)
        z = nn.AvgPool2d(6, 1)(z)
        return relu(self.fc(nn.Flatten()(z)))


def _build():
    m = Plain()
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 4], "n"), 6, 6, 8], name="x", is_input=True)
    return m, m(x)


def _params(m, seed=0):
    rng = np.random.default_rng(seed)
    return {n.replace(".", "_"): rng.standard_normal(p.shape()).astype(np.float32) * 0.3
            for n, p in m.named_parameters()}


def test_plain_graph_fuses_into_epilogues_and_matches():
    m, y = _build()
    params = _params(m)
    x = np.random.default_rng(1).standard_normal((3, 6, 6, 8)).astype(np.float32)
    fused = ait.build_graph(y)
    kinds = [op.kind for op in fused.ops]
    assert kinds == ["conv2d", "conv2d", "pool2d", "reshape", "gemm_rcr"]
    assert [op.epilogue.tag for op in fused.ops if op.kind in ("conv2d", "gemm_rcr")] == [
        "bias_relu", "bias_add_relu", "bias_relu"]
    out = ait.run_reference(fused, {"x": x}, params)[fused.tensor_for(y).name]

    # the same frontend graph, built again without fusion: the first build left it as it was
    unfused = ait.build_graph(y, fuse=False)
    assert [op.kind for op in unfused.ops].count("add") == 3
    assert y.name is None  # unnamed: each build names its own copy after the op computing it
    ref = ait.run_reference(unfused, {"x": x}, params)[unfused.tensor_for(y).name]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)

    # and both agree with a direct numpy computation of the block
    from ait.ops.conv2d.reference import conv2d_nhwc

    p = params
    a = np.maximum(conv2d_nhwc(x, p["a_weight"], (1, 1), (1, 1), (1, 1)) + p["a_bias"], 0)
    b = np.maximum(conv2d_nhwc(a, p["b_weight"], (1, 1), (1, 1), (1, 1)) + p["b_bias"] + x, 0)
    direct = np.maximum(b.mean(axis=(1, 2)) @ p["fc_weight"].T + p["fc_bias"], 0)
    np.testing.assert_allclose(out, direct, rtol=1e-4, atol=1e-4)


def test_shared_intermediate_is_not_fused_away():
    """A conv output read by two ops keeps its value: its add is not folded in."""
    w = Tensor([4, 1, 1, 4], name="w")
    b = Tensor([4], name="b")
    x = Tensor([1, 2, 2, 4], name="x", is_input=True)
    c = ait.ops.conv2d.conv2d(x, w)
    y1 = ait.ops.elementwise.add(c, b)
    y2 = relu(c)
    g = ait.build_graph([y1, y2])
    assert [op.kind for op in g.ops].count("conv2d") == 1
    conv = next(op for op in g.ops if op.kind == "conv2d")
    assert conv.epilogue is None


def test_residual_producer_is_scheduled_before_its_conv():
    x = Tensor([1, 4, 4, 8], name="x", is_input=True)
    conv = nn.Conv2dBias(8, 8, 1)
    short = nn.Conv2dBias(8, 8, 1)
    conv.name_parameter_tensor()
    for n, p in short.named_parameters():
        p.tensor.name = "short_" + n
    y = relu(conv(x) + short(x))  # residual computed by another conv, listed after
    g = ait.build_graph(y)
    assert len(g.ops) == 2
    fused = g.ops[1]
    assert fused.epilogue.tag == "bias_add_relu" and fused.residual.src_op is g.ops[0]


if __name__ == "__main__":
    pytest.main([__file__])
