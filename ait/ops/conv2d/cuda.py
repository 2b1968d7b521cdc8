"""CUDA emission for Conv2d: fill AitConv2dArgs, dispatch on the batch bucket."""
from __future__ import annotations

from ait.backend.emit import EmitContext, OpCode, dispatch, launch_options
from ait.ops.conv2d.op import Conv2d


def emit(op: Conv2d, ctx: EmitContext) -> OpCode:
    n, h, w, c = (ctx.dim(d) for d in op.x.shape())
    k, r, s, _ = (ctx.dim(d) for d in op.w.shape())
    _, p, q, _ = (ctx.dim(d) for d in op.outputs[0].shape())
    bias = ctx.ptr(op.bias) if op.bias is not None else "m.zeros"  # plain conv: zero bias
    residual = ctx.ptr(op.residual) if op.residual is not None else "nullptr"
    setup = "\n".join([
        "AitConv2dArgs a{};",
        f"a.x = {ctx.ptr(op.x)}; a.w = {ctx.ptr(op.w)}; a.bias = {bias};",
        f"a.residual = {residual}; a.y = {ctx.ptr(op.outputs[0])};",
        f"a.n = int({n}); a.h = {h}; a.w_ = {w}; a.c = {c}; a.k = {k}; a.r = {r}; a.s = {s};",
        f"a.p = {p}; a.q = {q}; a.pad_h = {op.pad[0]}; a.pad_w = {op.pad[1]};",
        f"a.stride_h = {op.stride[0]}; a.stride_w = {op.stride[1]};",
        f"a.dilation_h = {op.dilation[0]}; a.dilation_w = {op.dilation[1]};",
        launch_options(),
    ])
    kernels = ctx.kernels_for(op)
    return OpCode(setup,
                  dispatch(kernels, "a.n", "{k}(&a, kws, kws_bytes, stream)"),
                  dispatch(kernels, "a.n", "{k}_workspace_bytes(&a)", result="bytes"))
