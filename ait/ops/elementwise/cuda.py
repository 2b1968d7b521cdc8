"""CUDA emission for unfused add / relu (our own kernels in elementwise.cu)."""
from __future__ import annotations

from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.ir import AitError
from ait.ir.shape import IntImm, same_dim, shape_str
from ait.ops.elementwise.op import Add, Relu

SOURCES = [Path(__file__).with_name("elementwise.cu")]
# the C declarations of SOURCES' entry points, for model.cu
PROTOTYPES = (
    "int ait_add(const void*, const void*, void*, int64_t, int64_t, cudaStream_t);",
    "int ait_relu(const void*, void*, int64_t, cudaStream_t);",
)


def emit(op: Add | Relu, ctx: EmitContext) -> OpCode:
    y = op.outputs[0]
    if isinstance(op, Relu):
        return OpCode("", f"rc = ait_relu({ctx.ptr(op.inputs[0])}, {ctx.ptr(y)}, "
                          f"{ctx.numel(y)}, stream);", waits=True)
    a, b = op.inputs
    full = y.shape()
    if not _same(a.shape(), full):
        a, b = b, a
    small = b.shape()
    while small and small[0] == IntImm(1):
        small = small[1:]
    if not _same(a.shape(), full) or not _same(small, full[len(full) - len(small):]):
        raise AitError(f"add op {op.name}: the CUDA backend broadcasts only over leading dims; "
                       f"{shape_str(b.shape())} to {shape_str(full)} is not supported")
    return OpCode("", f"rc = ait_add({ctx.ptr(a)}, {ctx.ptr(b)}, {ctx.ptr(y)}, {ctx.numel(y)}, "
                      f"{ctx.numel(b)}, stream);", waits=True)


def _same(x, y) -> bool:
    return len(x) == len(y) and all(same_dim(i, j) for i, j in zip(x, y))
