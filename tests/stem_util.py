"""The ResNet stem alone (s2d conv + max pool, as modeling/resnet.py builds it), shared by the
CPU and GPU stem tests and scripts/dev/bench_stem.py."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from ait import IntVar, Tensor, nn
from ait.backend import nvcc
from ait.backend.target import Target
from ait.ops.space_to_depth.op import s2d_conv_weight


class Stem(nn.Module):
    def __init__(self, in_chans: int = 3, out_chans: int = 64, pool_stride: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2dBiasReluSpaceToDepth(in_chans, out_chans, 7, 2, 3)
        self.maxpool = nn.MaxPool2d(3, pool_stride, 1)

    def forward(self, x):
        return self.maxpool(self.conv1(x))


def build_stem(h: int, w: int, batch, in_chans: int = 3, **kw):
    """(module, output) for input 'x' [batch, h, w, in_chans]; batch an int or (lo, hi)."""
    m = Stem(in_chans, **kw)
    m.name_parameter_tensor()
    n = IntVar(list(batch), "n") if isinstance(batch, (tuple, list)) else batch
    x = Tensor([n, h, w, in_chans], name="x", is_input=True)
    y = m(x)
    y.name = "y"
    return m, y


def stem_params(m: Stem, seed: int = 0, s2d_weight: bool = True) -> dict[str, np.ndarray]:
    """fp16-representable random constants. s2d_weight: the weight made from a random 7x7
    one (zero 8th taps and channels 4C..15, as a model's); else every entry random."""
    rng = np.random.default_rng(seed)
    k, c = m.conv1.out_channels, m.conv1.in_channels
    if s2d_weight:
        w = s2d_conv_weight(rng.standard_normal((k, 7, 7, c)) * np.sqrt(2 / (49 * c)), 16)
    else:
        w = rng.standard_normal((k, 4, 4, 16)) * np.sqrt(2 / (49 * c))
    b = rng.standard_normal(k) * 0.1
    return {"conv1_weight": w.astype(np.float16).astype(np.float32),
            "conv1_bias": b.astype(np.float16).astype(np.float32)}


def compile_stem_checked(target: Target, obj: Path, *defines: str, source: Path | None = None,
                         kernels: int | None = 4, max_regs: int = 128) -> str:
    """Compiles an own kernel source (default stem.cu, the first of ait/ops/stem/cuda's SOURCES;
    any other through `source`, e.g. the 3x3 row conv) with `defines` into `obj` and asserts what
    ptxas reports: `kernels` kernels (stem.cu: one per channel count; None: not counted, e.g. a
    build without them), no spills, at most `max_regs` registers (stem.cu: 2 CTAs of 256 threads
    per SM). Returns nvcc's stderr."""
    from ait.ops.stem.cuda import SOURCES

    proc = subprocess.run([target.nvcc, *nvcc.compile_flags(target), *defines, "-Xptxas", "-v",
                           "-c", str(source or SOURCES[0]), "-o", str(obj)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    if kernels is not None:
        spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", proc.stderr)
        assert len(spills) == kernels and all(sp == ("0", "0") for sp in spills), proc.stderr
        regs = [int(r) for r in re.findall(r"Used (\d+) registers", proc.stderr)]
        assert len(regs) == kernels and max(regs) <= max_regs, regs
    return proc.stderr
