"""The fused ResNet stem (ait/ops/stem, ait/passes/fuse_stem) without a GPU: its shape rule,
the pass (where it fires and where not), the fused graph against the unfused one on the numpy
reference, the emitted call (row kernel or tile kernel), and both kernels compiled without
spills."""
import re
import subprocess

import numpy as np
import pytest

import ait
from ait import Tensor
from ait.backend.codegen import generate_model_source
from ait.backend.target import Target
from ait.ir import ShapeError
from ait.ops.stem import StemConvPool, stem_conv_pool
from ait.ops.stem.cuda import ROWS_ENV, SOURCES
from ait.passes.fuse_stem import ENV
from tests.stem_util import Stem, build_stem, compile_stem_checked, stem_params


def _kinds(y):
    return [op.kind for op in ait.build_graph(y).ops]


@pytest.mark.parametrize("h, w, po, qo", [(224, 224, 56, 56), (35, 37, 9, 10), (1, 2, 1, 1),
                                          (230, 227, 58, 57)])
def test_shape_rule(h, w, po, qo):
    x = Tensor([5, h, w, 3], name="x", is_input=True)
    y = stem_conv_pool(x, Tensor([64, 4, 4, 16], name="w"), Tensor([64], name="b"))
    assert [d.value for d in y.shape()] == [5, po, qo, 64]
    # the same sizes as the three ops it replaces
    m, y3 = build_stem(h, w, 5)
    assert [d.value for d in m.conv1(Tensor([5, h, w, 3], is_input=True)).shape()][1:3] == \
        [*StemConvPool.conv_size(h, w)]
    assert [d.value for d in y3.shape()] == [5, po, qo, 64]


@pytest.mark.parametrize("x, w, b, msg", [
    ([2, 16, 16, 5], [64, 4, 4, 16], [64], "1..4 channels"),
    ([2, 16, 16, 3], [32, 4, 4, 16], [64], "64 output channels"),
    ([2, 16, 16, 3], [64, 4, 4, 8], [64], "[64, 4, 4, 16]"),
    ([2, 16, 16, 3], [64, 4, 4, 16], [32], "[64] (bias)"),
    ([16, 16, 3], [64, 4, 4, 16], [64], "NHWC"),
])
def test_shape_errors(x, w, b, msg):
    with pytest.raises(ShapeError, match=re.escape(msg)):
        stem_conv_pool(Tensor(x, name="x", is_input=True), Tensor(w, name="w"),
                       Tensor(b, name="b"))


def test_flops_count_the_7x7_conv():
    x = Tensor([2, 224, 224, 3], name="x", is_input=True)
    op = stem_conv_pool(x, Tensor([64, 4, 4, 16], name="w"), Tensor([64], name="b")).src_op
    shape_of = lambda t: [d.value for d in t.shape()]  # noqa: E731
    assert op.flops(shape_of) == 2 * 2 * 112 * 112 * 64 * 7 * 7 * 3
    assert op.bytes_moved(shape_of) == 2 * (2 * 224 * 224 * 3 + 64 * 256 + 64 + 2 * 56 * 56 * 64)


@pytest.mark.parametrize("h, w, batch, c, s2d_weight", [
    (35, 37, 1, 3, True), (35, 37, 3, 3, False), (224, 224, 1, 3, True), (29, 16, 3, 4, True),
    (6, 5, 2, 3, True)])
def test_fused_equals_unfused_on_reference(h, w, batch, c, s2d_weight, monkeypatch):
    m, y = build_stem(h, w, (1, 4), in_chans=c)
    fused = ait.build_graph(y)
    assert [op.kind for op in fused.ops] == ["stem_conv_pool"]
    params = stem_params(m, seed=h + w, s2d_weight=s2d_weight)
    x = np.random.default_rng(batch).standard_normal((batch, h, w, c)).astype(np.float32)
    out = ait.run_reference(fused, {"x": x}, params)["y"]
    monkeypatch.setenv(ENV, "0")
    unfused = ait.build_graph(y)  # the same frontend graph: the fused build left it as it was
    assert [op.kind for op in unfused.ops] == ["space_to_depth", "conv2d", "pool2d"]
    ref = ait.run_reference(unfused, {"x": x}, params)["y"]
    assert out.shape == ref.shape and np.abs(ref).max() > 0
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_pass_fires_on_resnets(name):
    from modeling.resnet import build_resnet_graph

    _, y = build_resnet_graph(name, (1, 256))
    g = ait.build_graph(y)
    kinds = [op.kind for op in g.ops]
    assert kinds[0] == "stem_conv_pool" and "space_to_depth" not in kinds
    assert kinds.count("pool2d") == 1  # the global average pool
    stem = g.ops[0]
    assert [t.name for t in stem.inputs] == ["input0", "conv1_weight", "conv1_bias"]
    assert [d.value for d in stem.outputs[0].shape()[1:]] == [56, 56, 64]
    assert g.ops[1].inputs[0] is stem.outputs[0]


def test_pass_leaves_near_misses_alone(monkeypatch):
    from modeling.resnet import build_resnet_graph

    _, y = build_resnet_graph("resnet18", 2, stem="padded")
    assert _kinds(y)[:3] == ["pad_channels", "conv2d", "pool2d"]
    _, y = build_stem(32, 32, 2, pool_stride=1)
    assert _kinds(y) == ["space_to_depth", "conv2d", "pool2d"]
    _, y = build_stem(32, 32, 2, out_chans=32)
    assert _kinds(y) == ["space_to_depth", "conv2d", "pool2d"]
    _, y = build_stem(32, 32, 2, in_chans=2)  # s2d to 8 channels
    assert _kinds(y) == ["space_to_depth", "conv2d", "pool2d"]
    # the conv output read twice, or a graph output itself
    m = Stem()
    m.name_parameter_tensor()
    x = Tensor([2, 32, 32, 3], name="x", is_input=True)
    c = m.conv1(x)
    pooled = m.maxpool(c)
    assert [op.kind for op in ait.build_graph([pooled, c]).ops] == [
        "space_to_depth", "conv2d", "pool2d"]
    m = Stem()
    m.name_parameter_tensor()
    c = m.conv1(x)
    two = m.maxpool(c) + ait.ops.pool.max_pool2d(c, 3, 2, 1)
    assert "stem_conv_pool" not in _kinds(two)
    monkeypatch.setenv(ENV, "0")
    _, y = build_stem(32, 32, 2)
    assert _kinds(y) == ["space_to_depth", "conv2d", "pool2d"]


@pytest.mark.parametrize("rows, entry", [(None, "ait_stem_conv_pool_rows"),
                                         ("1", "ait_stem_conv_pool_rows"),
                                         ("0", "ait_stem_conv_pool")])
def test_emitted_call(rows, entry, monkeypatch):
    """The row kernel's entry by default (it falls back to stem.cu's where it does not apply);
    AIT_STEM_ROWS=0 the tile kernel's."""
    if rows is not None:
        monkeypatch.setenv(ROWS_ENV, rows)
    _, y = build_stem(35, 37, (1, 8))
    g = ait.build_graph(y)
    src, meta = generate_model_source(g, "stem", {})
    assert [op["kind"] for op in meta["ops"]] == ["stem_conv_pool"]
    call = re.search(r"rc = ait_stem_conv_pool\w*\(.*?\);", src).group(0)
    assert call == (f"rc = {entry}(const_cast<void*>(in[0]), m.constants[0], "
                    "m.constants[1], out[0], int(dims[0]), 35, 37, 3, 18, 19, 9, 10, stream);")
    for name in ("ait_stem_conv_pool", "ait_stem_conv_pool_rows"):
        assert f"int {name}(const void*, const void*, const void*, void*" in src


def test_rows_switch_rejects_a_typo(monkeypatch):
    monkeypatch.setenv(ROWS_ENV, "of")
    _, y = build_stem(35, 37, (1, 8))
    with pytest.raises(ait.AitError, match=ROWS_ENV):
        generate_model_source(ait.build_graph(y), "stem", {})


TARGET = Target.for_arch(90)


@pytest.mark.nvcc
@pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
def test_kernel_compiles_for_sm90a_without_spills(tmp_path):
    """Every channel count's kernel: no spills, at most 128 registers (2 CTAs of 256 threads
    per SM), the C entry point exported."""
    obj = tmp_path / "stem.o"
    compile_stem_checked(TARGET, obj)
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(r" T ait_stem_conv_pool$", syms, re.MULTILINE)


@pytest.mark.nvcc
@pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
@pytest.mark.parametrize("arch", [90, 80])
def test_row_kernel_compiles(arch, tmp_path):
    """sm_90a: one kernel, no spills, at most 255 registers (its launch bounds of 512 threads
    hold ptxas to 128), and no wgmma that ptxas serializes (its C75xx warnings, e.g. a wgmma on
    a divergent path). sm_80: the entry point alone (it falls back to stem.cu's kernel), no
    warnings."""
    target = Target.for_arch(arch)
    src = next(p for p in SOURCES if p.name == "stem_rows.cu")
    obj = tmp_path / "stem_rows.o"
    stderr = compile_stem_checked(target, obj, source=src, kernels=1 if arch == 90 else None,
                                  max_regs=255)
    assert "warning" not in stderr.lower(), stderr
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(r" T ait_stem_conv_pool_rows$", syms, re.MULTILINE)
    assert re.search(r" U ait_stem_conv_pool$", syms, re.MULTILINE)  # the fallback


@pytest.mark.nvcc
@pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
def test_fused_stem_model_builds(tmp_path, monkeypatch):
    """The fused stem goes through codegen, nvcc and the link (loading it needs a GPU)."""
    from ait.compiler.compile_model import build_model

    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    _, y = build_stem(35, 37, (1, 8))
    so = build_model(y, TARGET, tmp_path / "work", "stem", profile=False, verbose=False)
    syms = subprocess.run(["nm", "-D", str(so)], capture_output=True, text=True,
                          check=True).stdout
    assert "ait_stem_conv_pool" in syms and "ait_stem_conv_pool_rows" in syms
    assert "ait_stem_conv_pool_rows(" in (tmp_path / "work" / "stem" / "model.cu").read_text()
