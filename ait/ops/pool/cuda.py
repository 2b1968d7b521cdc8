"""CUDA emission for Pool2d (our own kernel in pool2d.cu)."""
from __future__ import annotations

from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.ops.pool.op import Pool2d, PoolKind

SOURCES = [Path(__file__).with_name("pool2d.cu")]
# the C declarations of SOURCES' entry points, for model.cu
PROTOTYPES = (
    "int ait_pool2d_nhwc(int, const void*, void*, int, "
    "int, int, int, int, int, int, int, int, int,\n"
    "                    int, int, int, cudaStream_t);",
)


def emit(op: Pool2d, ctx: EmitContext) -> OpCode:
    x, y = op.inputs[0], op.outputs[0]
    n, h, w, c = (ctx.dim(d) for d in x.shape())
    _, p, q, _ = (ctx.dim(d) for d in y.shape())
    is_max = int(op.pool is PoolKind.MAX)
    return OpCode("", f"rc = ait_pool2d_nhwc({is_max}, {ctx.ptr(x)}, {ctx.ptr(y)}, int({n}), {h}, "
                      f"{w}, {c}, {p}, {q}, {op.kernel[0]}, {op.kernel[1]}, {op.stride[0]}, "
                      f"{op.stride[1]}, {op.pad[0]}, {op.pad[1]}, m.prefetch, stream);", waits=True)
