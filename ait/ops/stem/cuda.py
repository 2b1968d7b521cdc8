"""CUDA emission for StemConvPool (our own kernel in stem.cu)."""
from __future__ import annotations

from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.ops.stem.op import StemConvPool

SOURCES = [Path(__file__).with_name("stem.cu")]
# the C declarations of SOURCES' entry points, for model.cu
PROTOTYPES = (
    "int ait_stem_conv_pool(const void*, const void*, "
    "const void*, void*, int, int, int, int, int,\n"
    "                       int, int, int, cudaStream_t);",
)


def emit(op: StemConvPool, ctx: EmitContext) -> OpCode:
    x, w, b = op.inputs
    y = op.outputs[0]
    n, h, wd, c = (ctx.dim(d) for d in x.shape())
    p, q = op.conv_size(x.shape()[1].value, x.shape()[2].value)
    _, po, qo, _ = (ctx.dim(d) for d in y.shape())
    return OpCode("", f"rc = ait_stem_conv_pool({ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, "
                      f"{ctx.ptr(y)}, int({n}), {h}, {wd}, {c}, {p}, {q}, {po}, {qo}, stream);",
                  waits=True)
