"""CUDA emission for gemm_rcr: fill AitGemmArgs, dispatch on the M (batch) bucket."""
from __future__ import annotations

from ait.backend.emit import EmitContext, OpCode, dispatch, launch_options
from ait.ops.gemm.op import Gemm


def emit(op: Gemm, ctx: EmitContext) -> OpCode:
    x, w = op.inputs[0], op.inputs[1]
    m, k = (ctx.dim(d) for d in x.shape())
    n = ctx.dim(w.shape()[0])
    bias = ctx.ptr(op.inputs[2]) if op.epilogue is not None else "m.zeros"
    setup = "\n".join([
        "AitGemmArgs a{};",
        f"a.x = {ctx.ptr(x)}; a.w = {ctx.ptr(w)}; a.bias = {bias}; a.y = {ctx.ptr(op.outputs[0])};",
        f"a.m = int({m}); a.n = {n}; a.k = {k};",
        launch_options(),
    ])
    kernels = ctx.kernels_for(op)
    return OpCode(setup,
                  dispatch(kernels, "a.m", "{k}(&a, kws, kws_bytes, stream)"),
                  dispatch(kernels, "a.m", "{k}_workspace_bytes(&a)", result="bytes"))
