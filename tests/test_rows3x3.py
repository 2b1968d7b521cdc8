"""The strip-of-rows 3x3 conv candidate (ait/ops/conv2d/rows3x3.py) without a GPU: which convs
get it, that the tuner keeps it (no prune rule drops it, AIT_ROWS3X3=0 does), its rendering,
and its compile for sm_90a (no spills, no serialized wgmma, its registers within one CTA of
384 threads a SM) and for sm_80 (the entry alone, answering cannot-implement)."""
from __future__ import annotations

import re
import subprocess

import pytest

from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ir.errors import AitError
from ait.ops.conv2d import ConvRequest, rows3x3
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.tune.candidates import candidates_for
from tests.stem_util import compile_stem_checked

H100 = Target.for_arch(90)
A100 = Target.for_arch(80)
RESNET = dict(r=3, s=3, stride=(1, 1), pad=(1, 1), dilation=(1, 1), w=56)


def _rows(cands):
    return [c for c in cands if isinstance(c, rows3x3.Conv2dRows3x3)]


@pytest.mark.parametrize("ep", [BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU], ids=lambda e: e.tag)
def test_offered_for_resnets_56x56_3x3_convs(ep):
    (cand,) = _rows(conv2d_candidates(H100, ep, 64, 64, **RESNET))
    assert cand.name == f"conv2d_rows3x3_n232_{ep.tag}_f32"
    assert cand.waits_for_prior_grids


@pytest.mark.parametrize("change", [dict(w=rows3x3.MAX_WIDTH + 1), dict(w=None),
                                    dict(stride=(2, 2)), dict(pad=(0, 0)), dict(r=1, s=1),
                                    dict(dilation=(2, 2)), dict(c=128), dict(k=32)], ids=str)
def test_not_offered_where_the_kernel_does_not_apply(change):
    geo = {**RESNET, **change}
    c, k = geo.pop("c", 64), geo.pop("k", 64)
    assert not _rows(conv2d_candidates(H100, BIAS_RELU, c, k, **geo))


def test_widest_width_and_other_archs():
    assert _rows(conv2d_candidates(H100, BIAS_RELU, 64, 64, **{**RESNET,
                                                                "w": rows3x3.MAX_WIDTH}))
    assert not _rows(conv2d_candidates(A100, BIAS_RELU, 64, 64, **RESNET))
    assert 56 <= rows3x3.MAX_WIDTH < 112  # ResNet's 224 px input; 448 px is not taken


def test_tuner_keeps_it_and_the_switch_removes_it(monkeypatch):
    req = ConvRequest.of(BIAS_RELU, 256, 56, 56, 64, 64, 3, 3, (1, 1), (1, 1))
    assert _rows(candidates_for(H100, req)), "a prune rule dropped the row kernel"
    monkeypatch.setenv(rows3x3.ENV, "0")
    assert not _rows(candidates_for(H100, req))
    monkeypatch.setenv(rows3x3.ENV, "of")
    with pytest.raises(AitError, match="AIT_ROWS3X3"):
        candidates_for(H100, req)


def test_renders_the_kernel_and_its_entry():
    src = rows3x3.Conv2dRows3x3(BIAS_ADD_RELU).render()
    assert "c3rows::run<true, true>(*a, stream)" in src
    assert "conv2d_rows3x3_n232_bias_add_relu_f32_workspace_bytes" in src
    assert "wgmma.mma_async.sync.aligned.m64n232k16.f32.f16.f16" in src
    assert "c3rows::run<false, false>" in rows3x3.Conv2dRows3x3(BIAS).render()


@pytest.mark.nvcc
@pytest.mark.skipif(H100.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
@pytest.mark.parametrize("arch", [90, 80])
def test_compiles(arch, tmp_path):
    """sm_90a: one kernel, no spills, at most 168 registers (launch bounds of 384 threads, one
    CTA a SM), no warning (ptxas's C75xx on serialized wgmma among them). sm_80: no kernel
    code, the entry exported."""
    cand = rows3x3.Conv2dRows3x3(BIAS_ADD_RELU)
    src = tmp_path / f"{cand.name}.cu"
    src.write_text(cand.render())
    obj = tmp_path / "rows.o"
    target = H100 if arch == 90 else A100
    stderr = compile_stem_checked(target, obj, source=src, kernels=1 if arch == 90 else None,
                                  max_regs=168)
    assert "warning" not in stderr.lower(), stderr
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf" T {cand.name}$", syms, re.MULTILINE)
    assert re.search(rf" T {cand.name}_workspace_bytes$", syms, re.MULTILINE)
