"""Bad shapes and bad inputs give errors that name the op, the tensor and the shapes."""
import numpy as np
import pytest

import ait
from ait import AitError, IntVar, ShapeError, Tensor, nn
from ait.ops.conv2d import conv2d
from ait.ops.gemm import gemm_rcr
from ait.ops.pool import max_pool2d
from ait.ops.reshape import reshape


def test_conv_channel_mismatch_names_tensors_and_shapes():
    x = Tensor([1, 8, 8, 16], name="img", is_input=True)
    w = Tensor([32, 3, 3, 8], name="conv_w")
    with pytest.raises(ShapeError) as e:
        conv2d(x, w, pad=1)
    msg = str(e.value)
    assert "conv2d" in msg and "'conv_w'" in msg and "[32, 3, 3, 8]" in msg
    assert "[K, R, S, 16]" in msg


def test_conv_rank_error():
    x = Tensor([8, 8, 16], name="flat", is_input=True)
    w = Tensor([4, 1, 1, 16], name="w")
    with pytest.raises(ShapeError, match=r"'flat' has shape \[8, 8, 16\], expected rank 4 NHWC"):
        conv2d(x, w)


def test_conv_filter_larger_than_input():
    x = Tensor([1, 2, 2, 4], name="tiny", is_input=True)
    w = Tensor([4, 5, 5, 4], name="w")
    with pytest.raises(ShapeError, match="'tiny'.*large enough for a 5x5 filter"):
        conv2d(x, w)


def test_residual_shape_mismatch():
    x = Tensor([1, 8, 8, 4], name="x", is_input=True)
    w = Tensor([4, 3, 3, 4], name="w")
    b = Tensor([4], name="b")
    r = Tensor([1, 4, 4, 4], name="res", is_input=True)
    with pytest.raises(ShapeError,
                       match=r"'res' has shape \[1, 4, 4, 4\], expected \[1, 8, 8, 4\]"):
        conv2d(x, w, b, r, pad=1)


def test_bias_shape_mismatch():
    x = Tensor([1, 8, 8, 4], name="x", is_input=True)
    with pytest.raises(ShapeError, match=r"'bb' has shape \[5\], expected \[4\] \(bias\)"):
        conv2d(x, Tensor([4, 1, 1, 4], name="w"), Tensor([5], name="bb"))


def test_gemm_k_mismatch():
    x = Tensor([IntVar([1, 8], "n"), 64], name="feat", is_input=True)
    with pytest.raises(ShapeError,
                       match=r"gemm_rcr.*'fc_w' has shape \[10, 32\], expected \[N, 64\]"):
        gemm_rcr(x, Tensor([10, 32], name="fc_w"))


def test_pool_on_wrong_rank_and_reshape_mismatch():
    with pytest.raises(ShapeError, match="pool2d.*'v'.*rank 4"):
        max_pool2d(Tensor([4, 4], name="v", is_input=True), 2)
    with pytest.raises(ShapeError, match="reshape.*'t'"):
        reshape(Tensor([2, 3, 4], name="t", is_input=True), [5, -1])


def test_few_channels_stem_rejects_too_many_channels():
    with pytest.raises(ValueError, match="9 input channels"):
        nn.Conv2dBiasReluFewChannels(9, 16, 3)


def test_reference_checks_inputs_and_constants():
    m = nn.Conv2dBiasRelu(4, 4, 3, 1, 1)
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 4], "batch"), 8, 8, 4], name="x", is_input=True)
    y = m(x)
    g = ait.build_graph(y)
    params = {"weight": np.ones((4, 3, 3, 4), np.float32), "bias": np.ones(4, np.float32)}
    good = np.random.default_rng(0).standard_normal((2, 8, 8, 4))
    with pytest.raises(AitError,
                       match=r"input 'x'.*dim 0 \(batch\) is 5, outside the compiled range 1..4"):
        ait.run_reference(g, {"x": np.zeros((5, 8, 8, 4))}, params)
    with pytest.raises(AitError, match=r"input 'x'.*dim 3 is 3, expected 4"):
        ait.run_reference(g, {"x": np.zeros((2, 8, 8, 3))}, params)
    with pytest.raises(AitError, match="constant 'bias'.*was not set"):
        ait.run_reference(g, {"x": good}, {"weight": params["weight"]})
    with pytest.raises(AitError, match="input 'x'.*was not given"):
        ait.run_reference(g, {}, params)
    with pytest.raises(AitError, match=r"constant 'weight': dim 1 is 1, expected 3"):
        ait.run_reference(g, {"x": good}, {**params, "weight": np.ones((4, 1, 1, 4))})


def test_unnamed_parameters_are_reported():
    m = nn.Conv2dBias(4, 4, 1)
    y = m(Tensor([1, 2, 2, 4], name="x", is_input=True))
    with pytest.raises(AitError, match="name_parameter_tensor"):
        ait.build_graph(y)


def test_output_must_be_computed():
    with pytest.raises(AitError, match="not computed by any op"):
        ait.build_graph(Tensor([1], name="lonely", is_input=True))
