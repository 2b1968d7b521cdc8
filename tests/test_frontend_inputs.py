"""CPU only: the frontend (ait.nn, modeling.resnet) refuses bad sizes with an AitError that
names the module and argument, where they used to build a graph of empty tensors, pad a
wrong channel count silently, or fail later with a message about something else."""
from __future__ import annotations

import pytest

from ait import AitError, IntImm, IntVar, ShapeError, Tensor, nn
from modeling.resnet import build_resnet_graph, create_resnet, max_batch


@pytest.mark.parametrize("image_size", [0, -5, 224.5, "224", True])
def test_a_bad_image_size_is_named(image_size):
    with pytest.raises(ShapeError, match=rf"ResNet: image_size must be a positive int, got "
                                         rf"{image_size!r}"):
        build_resnet_graph("resnet18", 1, image_size)


@pytest.mark.parametrize("batch, words", [
    (0, "batch_size must be a positive int or a (lo, hi) pair, got 0"),
    (-1, "batch_size must be a positive int or a (lo, hi) pair, got -1"),
    (1.5, "batch_size must be a positive int or a (lo, hi) pair, got 1.5"),
    ((8, 1), "batch range 8..1 needs 1 <= lo <= hi"),
    ((0, 8), "batch range 0..8 needs 1 <= lo <= hi"),
    ((1, 2, 3), "batch_size must be an int or a (lo, hi) pair of ints, got (1, 2, 3)"),
    ((1, 8.0), "batch_size must be an int or a (lo, hi) pair of ints, got (1, 8.0)"),
    ((1, 100000), "batch size 100000 is larger than a ResNet at 224x224 takes (at most 2674"),
    (2675, "batch size 2675 is larger"),
])
def test_a_bad_batch_is_named(batch, words):
    with pytest.raises(ShapeError) as exc:
        build_resnet_graph("resnet18", batch)
    assert f"ResNet: {words}" in str(exc.value)


def test_good_batches_still_build():
    assert build_resnet_graph("resnet18", (4, 4))[1].shape()[0].values == [4, 4]
    _, y = build_resnet_graph("resnet18", (1, max_batch(224)), 224, 10)
    assert y.shape()[0].values == [1, 2674] and y.shape()[1].value == 10


@pytest.mark.parametrize("n", [0, -1])
def test_a_non_positive_num_classes_is_named(n):
    with pytest.raises(AitError, match=rf"Linear: out_features must be a positive int, got {n}"):
        create_resnet("resnet18", n)


@pytest.mark.parametrize("make, words", [
    (lambda: nn.Conv2dBiasRelu(0, 16, 3), "Conv2dBiasRelu: in_channels must be a positive int"),
    (lambda: nn.Conv2dBias(8, -1, 3), "Conv2dBias: out_channels must be a positive int"),
    (lambda: nn.Conv2dBiasRelu(8, 8, 0), "Conv2dBiasRelu: kernel_size must be a positive int"),
    (lambda: nn.Conv2d(8, 8, (3, 0)), "Conv2d: kernel_size must be a positive int, got 0"),
    (lambda: nn.Conv2dBiasRelu(8.0, 8, 3), "in_channels must be a positive int, got 8.0"),
    (lambda: nn.Linear(0, 4), "Linear: in_features must be a positive int, got 0"),
    (lambda: nn.Linear(8, 0), "Linear: out_features must be a positive int, got 0"),
    (lambda: nn.Conv2dBiasReluSpaceToDepth(0, 64, 7, 2, 3),
     "Conv2dBiasReluSpaceToDepth: in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2dBiasReluFewChannels(0, 64, 7, 2, 3),
     "Conv2dBiasReluFewChannels: in_channels must be a positive int, got 0"),
])
def test_a_module_with_an_empty_or_non_integer_size_is_named(make, words):
    with pytest.raises(ShapeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()


@pytest.mark.parametrize("value", [2.5, None, True])
def test_a_non_integer_kernel_or_stride_is_named_not_a_type_error(value):
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a pair of ints"):
        nn.Conv2dBiasRelu(8, 8, value)
    with pytest.raises(ValueError, match=r"stride must be an int or a pair of ints"):
        nn.Conv2dBiasRelu(8, 8, 3, value, 1)(Tensor([1, 8, 8, 8]))


def test_the_space_to_depth_stem_refuses_a_wrong_channel_count():
    """It pads channels up to 16: 4 channels into a 3-channel stem ran silently, wrong."""
    with pytest.raises(ShapeError, match=r"Conv2dBiasReluSpaceToDepth: the input x has 4 "
                                         r"channels .*expected 3"):
        create_resnet("resnet18")(Tensor([1, 224, 224, 4], name="x"))


def test_the_few_channels_stem_refuses_a_wrong_channel_count():
    stem = nn.Conv2dBiasReluFewChannels(3, 16, 7, 2, 3, pad_to=8)
    with pytest.raises(ShapeError, match=r"has 5 channels .*expected 3 or 8"):
        stem(Tensor([1, 32, 32, 5]))
    for c in (3, 8):  # unpadded, or padded already
        assert stem(Tensor([1, 32, 32, c])).shape()[-1].value == 16
    with pytest.raises(ShapeError, match=r"expected 3 or 8"):
        create_resnet("resnet18", stem="padded")(Tensor([1, 224, 224, 1]))


@pytest.mark.parametrize("dim", [2.5, "8", True, None])
def test_a_non_integer_dim_is_an_ait_error_and_still_a_type_error(dim):
    with pytest.raises(AitError, match=rf"a dimension must be int, IntImm or IntVar, got "
                                       rf"{dim!r}") as exc:
        Tensor([1, dim, 8, 8])
    assert isinstance(exc.value, TypeError)


def test_negative_dims_and_bad_int_var_bounds_are_ait_errors():
    with pytest.raises(ShapeError, match="IntImm needs a non-negative int, got -1"):
        IntImm(-1)
    with pytest.raises(ShapeError, match="not in increasing order"):
        IntVar([8, 1])
    with pytest.raises(ShapeError, match="needs positive int bounds"):
        IntVar([0, 4])
