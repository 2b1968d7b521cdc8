"""CUDA emission for StemConvPool (our own kernels: stem.cu, and stem_rows.cu on sm_90a)."""
from __future__ import annotations

from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.ir.env import env_switch
from ait.ops.stem.op import StemConvPool

HERE = Path(__file__).parent
SOURCES = [HERE / "stem.cu", HERE / "stem_rows.cu"]
_ARGS = ("const void*, const void*, const void*, void*, int, int, int, int, int,\n"
         "                       int, int, int, cudaStream_t")
# the C declarations of SOURCES' entry points, for model.cu
PROTOTYPES = (f"int ait_stem_conv_pool({_ARGS});", f"int ait_stem_conv_pool_rows({_ARGS});")
# =0: stem.cu's kernel everywhere (A/B against the row kernel, which is the default where it
# applies: stem_rows.cu's entry falls back to stem.cu's for every other case)
ROWS_ENV = "AIT_STEM_ROWS"


def entry_point() -> str:
    return "ait_stem_conv_pool_rows" if env_switch(ROWS_ENV, True) else "ait_stem_conv_pool"


def emit(op: StemConvPool, ctx: EmitContext) -> OpCode:
    x, w, b = op.inputs
    y = op.outputs[0]
    n, h, wd, c = (ctx.dim(d) for d in x.shape())
    p, q = op.conv_size(x.shape()[1].value, x.shape()[2].value)
    _, po, qo, _ = (ctx.dim(d) for d in y.shape())
    return OpCode("", f"rc = {entry_point()}({ctx.ptr(x)}, {ctx.ptr(w)}, {ctx.ptr(b)}, "
                      f"{ctx.ptr(y)}, int({n}), {h}, {wd}, {c}, {p}, {q}, {po}, {qo}, stream);",
                  waits=True)
