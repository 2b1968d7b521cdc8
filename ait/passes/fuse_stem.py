"""Fuse the ResNet stem, space_to_depth(pad 3, 16 channels) -> conv2d(4x4, stride 1, pad 0,
bias + ReLU, 64 output channels) -> max_pool2d(3, stride 2, pad 1), into one StemConvPool
op (ait/ops/stem), whose kernel never writes the conv output to global memory.

Runs after fuse_epilogues (the conv must already carry its bias + ReLU). Fires only when both
intermediates have one consumer and are not graph outputs; otherwise the graph is left as it
is. ``AIT_FUSE_STEM=0`` turns it off (A/B measurement)."""
from __future__ import annotations

import os

from ait.ir import IntImm, Op, Tensor, TensorKind
from ait.ir.epilogue import BIAS_RELU
from ait.ops.conv2d import Conv2d
from ait.ops.pool import Pool2d, PoolKind
from ait.ops.space_to_depth import SpaceToDepth
from ait.ops.stem import StemConvPool
from ait.ops.stem import op as stem

ENV = "AIT_FUSE_STEM"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip() not in ("0", "false", "no", "off")


def _sole_consumer(t: Tensor) -> Op | None:
    return t.dst_ops[0] if not t.is_output and len(t.dst_ops) == 1 else None


def _static(shape) -> list[int | None]:
    return [d.value if isinstance(d, IntImm) else None for d in shape]


def _match(s2d: Op) -> tuple[Conv2d, Pool2d] | None:
    if not (isinstance(s2d, SpaceToDepth) and s2d.pad == stem.PAD
            and s2d.channels == stem.S2D_CHANNELS):
        return None
    x = s2d.inputs[0]
    if not 1 <= _static(x.shape())[-1] <= stem.MAX_IN_CHANNELS:
        return None
    conv = _sole_consumer(s2d.outputs[0])
    if not (isinstance(conv, Conv2d) and conv.x is s2d.outputs[0] and conv.epilogue == BIAS_RELU
            and conv.stride == (1, 1) and conv.pad == (0, 0) and conv.dilation == (1, 1)
            and not conv.few_channels and conv.w.kind is TensorKind.CONSTANT
            and _static(conv.w.shape()) == [stem.OUT_CHANNELS, stem.FILTER, stem.FILTER,
                                            stem.S2D_CHANNELS]):
        return None
    pool = _sole_consumer(conv.outputs[0])
    k, s, p = stem.POOL
    if not (isinstance(pool, Pool2d) and pool.pool is PoolKind.MAX and pool.kernel == (k, k)
            and pool.stride == (s, s) and pool.pad == (p, p)):
        return None
    return conv, pool


def _replace(s2d: Op, conv: Conv2d, pool: Pool2d) -> StemConvPool:
    x, w, bias = s2d.inputs[0], conv.w, conv.bias
    for op, inputs in ((s2d, [x]), (conv, [w, bias])):
        for t in inputs:
            if op in t.dst_ops:
                t.dst_ops.remove(op)
    fused = StemConvPool(name=pool.name)
    fused.inputs = [x, w, bias]
    fused.infer_shapes()  # the shape rule's checks; the result is the pool's output shape
    for t in fused.inputs:
        t.dst_ops.append(fused)
    out = pool.outputs[0]
    out.src_op = fused
    fused.outputs = [out]
    for dead in (s2d.outputs[0], conv.outputs[0]):
        dead.src_op, dead.dst_ops = None, []
    return fused


def fuse_stem(ops: list[Op]) -> list[Op]:
    """Returns the new op list (in order): each matched triple becomes one op at the pool's
    place (its inputs are all computed before the space_to_depth)."""
    if not enabled():
        return list(ops)
    out = list(ops)
    for s2d in list(ops):
        found = _match(s2d)
        if found is None:
            continue
        conv, pool = found
        fused = _replace(s2d, conv, pool)
        out[out.index(pool)] = fused
        out.remove(s2d)
        out.remove(conv)
    return out
