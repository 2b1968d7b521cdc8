"""Whole ResNets: the ait graph on the numpy reference executor vs timm in fp32."""
import numpy as np
import pytest
import torch

import ait
from modeling.resnet import SPECS, build_resnet_graph
from weight_utils import timm_resnet, timm_to_ait

timm = pytest.importorskip("timm")


def _timm(name, seed=0, num_classes=1000):
    return timm_resnet(name, seed=seed, num_classes=num_classes)  # BN statistics randomised


def _rel_err(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_matches_timm_fp32(name):
    tm = _timm(name)
    model, y = build_resnet_graph(name, batch_size=(1, 8), dtype="float32")
    params = timm_to_ait(tm, model, dtype="float32")
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = tm(x).numpy()
    out = ait.run_reference(y, {"input0": x.permute(0, 2, 3, 1).numpy()}, params)["output0"]
    assert out.shape == (4, 1000)
    assert _rel_err(out, ref) < 1e-4
    assert (out.argmax(1) == ref.argmax(1)).all()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_depth_maps_and_runs(name):
    """Every depth's weights map onto the ait model, and a small image matches timm."""
    tm = _timm(name, seed=3, num_classes=10)
    model, y = build_resnet_graph(name, batch_size=2, image_size=64, num_classes=10,
                                  dtype="float32")
    params = timm_to_ait(tm, model, dtype="float32")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = tm(x).numpy()
    out = ait.run_reference(y, {"input0": x.permute(0, 2, 3, 1).numpy()}, params)["output0"]
    assert _rel_err(out, ref) < 1e-4


def test_fp16_weights_close_to_fp32():
    tm = _timm("resnet18")
    model, y = build_resnet_graph("resnet18", batch_size=2, image_size=96)
    params16 = timm_to_ait(tm, model, dtype="float16")
    assert all(v.dtype == np.float16 for v in params16.values())
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = tm(x).numpy()
    out = ait.run_reference(y, {"input0": x.permute(0, 2, 3, 1).numpy()}, params16)["output0"]
    assert _rel_err(out, ref) < 1e-2


@pytest.mark.parametrize("stem", ["space_to_depth", "padded"])
def test_graph_is_fused_like_upstream(stem):
    _, y = build_resnet_graph("resnet50", batch_size=(1, 256), stem=stem)
    g = ait.build_graph(y)
    kinds = [op.kind for op in g.ops]
    # the s2d stem (s2d, conv, max pool) is one op (fuse_stem); the padded one is not fused
    convs = {"space_to_depth": 52, "padded": 53}[stem]
    assert kinds.count("conv2d") == convs and kinds.count("gemm_rcr") == 1
    assert "add" not in kinds and "relu" not in kinds
    tags = [op.epilogue.tag for op in g.ops if op.kind == "conv2d"]
    assert tags.count("bias_add_relu") == 16 and tags.count("bias") == 4
    assert kinds[0] == {"space_to_depth": "stem_conv_pool", "padded": "pad_channels"}[stem]
    if stem == "padded":
        first = g.ops[1]  # the stem conv, after the input's channel padding
        assert first.few_channels and first.x.shape()[-1] == 8
    else:
        assert [d.value for d in g.ops[0].inputs[1].shape()] == [64, 4, 4, 16]
    # the dynamic batch flows to the output
    assert g.outputs[0].shape()[0] is g.inputs[0].shape()[0]
