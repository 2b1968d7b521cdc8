"""CUDA emission for SpaceToDepth (our own kernel in space_to_depth.cu)."""
from __future__ import annotations

from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.ops.space_to_depth.op import SpaceToDepth

SOURCES = [Path(__file__).with_name("space_to_depth.cu")]
# the C declarations of SOURCES' entry points, for model.cu
PROTOTYPES = (
    "int ait_space_to_depth(const void*, void*, int, "
    "int, int, int, int, int, int, int, cudaStream_t);",
)


def emit(op: SpaceToDepth, ctx: EmitContext) -> OpCode:
    x, y = op.inputs[0], op.outputs[0]
    n, h, w, c = (ctx.dim(d) for d in x.shape())
    _, ho, wo, co = (ctx.dim(d) for d in y.shape())
    return OpCode("", f"rc = ait_space_to_depth({ctx.ptr(x)}, {ctx.ptr(y)}, int({n}), {h}, {w}, "
                      f"{c}, {op.pad}, {co}, {ho}, {wo}, stream);", waits=True)
