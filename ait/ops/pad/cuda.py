"""CUDA emission for PadChannels (our own kernel in pad_channels.cu)."""
from __future__ import annotations

from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.ops.pad.op import PadChannels

SOURCES = [Path(__file__).with_name("pad_channels.cu")]
# the C declarations of SOURCES' entry points, for model.cu
PROTOTYPES = (
    "int ait_pad_channels(const void*, void*, int64_t, int, int, cudaStream_t);",
)


def emit(op: PadChannels, ctx: EmitContext) -> OpCode:
    x, y = op.inputs[0], op.outputs[0]
    n, h, w, c = (ctx.dim(d) for d in x.shape())
    return OpCode("", f"rc = ait_pad_channels({ctx.ptr(x)}, {ctx.ptr(y)}, "
                      f"int64_t({n}) * {h} * {w}, {c}, {op.channels}, stream);", waits=True)
