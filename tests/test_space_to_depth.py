"""Space-to-depth stem: exact on the numpy reference, and the CUDA kernel's index rule checked
on the host (no GPU) against the same reference."""
import shutil
import struct
import subprocess

import numpy as np
import pytest
import torch

import ait
from ait import Tensor
from ait.frontend import nn
from ait.ops.conv2d.reference import conv2d_nhwc
from ait.ops.space_to_depth import space_to_depth
from ait.ops.space_to_depth.op import s2d_conv_weight
from tests.conftest import ROOT

timm = pytest.importorskip("timm")


@pytest.mark.parametrize("k, pad, h, w, c", [(7, 3, 224, 224, 3), (7, 3, 15, 9, 3),
                                              (3, 1, 8, 8, 2), (5, 2, 11, 12, 4)])
def test_s2d_conv_equals_strided_conv(k, pad, h, w, c):
    rng = np.random.default_rng(k + h)
    x = rng.standard_normal((2, h, w, c)).astype(np.float32)
    wt = rng.standard_normal((8, k, k, c)).astype(np.float32)
    ref = conv2d_nhwc(x, wt, (2, 2), (pad, pad), (1, 1))
    channels = -(-4 * c // 8) * 8
    op_x = Tensor([2, h, w, c], name="x", is_input=True)
    s2d = space_to_depth(op_x, pad, channels).src_op
    y = s2d.reference(x)[0]
    out = conv2d_nhwc(y, s2d_conv_weight(wt, channels), (1, 1), (0, 0), (1, 1))
    out = out[:, : ref.shape[1], : ref.shape[2]]  # odd sizes: the extra row/col is dropped
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_resnet_with_s2d_stem_matches_timm():
    from modeling.resnet import build_resnet_graph
    from weight_utils import timm_resnet, timm_to_ait

    tm = timm_resnet("resnet18")
    model, y = build_resnet_graph("resnet18", (1, 4), dtype="float32", stem="space_to_depth")
    assert isinstance(model.conv1, nn.Conv2dBiasReluSpaceToDepth)
    params = timm_to_ait(tm, model, "float32")
    assert params["conv1_weight"].shape == (64, 4, 4, 16)
    x = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        ref = tm(x).numpy()
    out = ait.run_reference(y, {"input0": x.permute(0, 2, 3, 1).numpy()}, params)["output0"]
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 1e-4
    kinds = [op.kind for op in ait.build_graph(y).ops]
    assert kinds[0] == "stem_conv_pool" and "pad_channels" not in kinds  # fuse_stem


HARNESS = r"""
#include <cstdio>
#include <cstdlib>
#include "space_to_depth.cu"
int main(int argc, char** argv) {
  int n = atoi(argv[1]), h = atoi(argv[2]), w = atoi(argv[3]), c = atoi(argv[4]);
  int pad = atoi(argv[5]), co = atoi(argv[6]), ho = atoi(argv[7]), wo = atoi(argv[8]);
  for (int b = 0; b < n; ++b) for (int u = 0; u < ho; ++u) for (int v = 0; v < wo; ++v)
    for (int oc = 0; oc < co; ++oc) {
      long long s = ait_s2d_source(b, u, v, oc, h, w, c, pad);
      fwrite(&s, sizeof s, 1, stdout);
    }
  return 0;
}
"""


@pytest.mark.nvcc
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc on PATH")
def test_cuda_index_rule_matches_reference(tmp_path):
    src = tmp_path / "harness.cu"
    src.write_text(HARNESS)
    exe = tmp_path / "harness"
    subprocess.run(["nvcc", "-std=c++17", "-I", str(ROOT / "ait" / "ops" / "space_to_depth"),
                    "-I", str(ROOT / "ait" / "backend" / "include"), str(src), "-o", str(exe)],
                   check=True, capture_output=True, timeout=300)
    n, h, w, c, pad, co = 2, 9, 6, 3, 3, 16
    x = np.arange(1, n * h * w * c + 1, dtype=np.float32).reshape(n, h, w, c)
    op_x = Tensor([n, h, w, c], name="x", is_input=True)
    ref = space_to_depth(op_x, pad, co).src_op.reference(x)[0]
    ho, wo = ref.shape[1:3]
    raw = subprocess.run([str(exe), *map(str, (n, h, w, c, pad, co, ho, wo))], check=True,
                         capture_output=True, timeout=60).stdout
    idx = np.array(struct.unpack(f"{len(raw) // 8}q", raw)).reshape(ref.shape)
    got = np.where(idx < 0, 0.0, x.reshape(-1)[np.maximum(idx, 0)])
    np.testing.assert_array_equal(got, ref)
