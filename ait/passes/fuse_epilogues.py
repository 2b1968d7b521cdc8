"""Fold bias add, residual add and relu that follow a conv (or bias/relu after a gemm) into
the op's epilogue. Plain graphs (Conv2d + add + relu) then run as the fused kernels.

A producer is fused into only when its output has exactly one consumer and is not a graph
output, so no value that someone else reads disappears."""
from __future__ import annotations

from ait.ir import Op, Tensor, TensorKind
from ait.ir.shape import same_dim
from ait.ops.conv2d import Conv2d
from ait.ops.elementwise import Add, Relu
from ait.ir.epilogue import Activation, Epilogue
from ait.ops.gemm import Gemm


def _sole_consumer(t: Tensor) -> Op | None:
    if t.is_output or len(t.dst_ops) != 1:
        return None
    return t.dst_ops[0]


def _depends_on(t: Tensor, op: Op) -> bool:
    """Whether tensor t is computed (transitively) from op's outputs."""
    stack, seen = [t], set()
    while stack:
        cur = stack.pop()
        if cur.src_op is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if cur.src_op is op:
            return True
        stack.extend(cur.src_op.inputs)
    return False


def _is_bias_for(t: Tensor, channels) -> bool:
    shape = t.shape()
    return t.kind is TensorKind.CONSTANT and len(shape) == 1 and same_dim(shape[0], channels)


def _absorb(producer: Op, consumer: Op, new_inputs: list[Tensor], epilogue: Epilogue) -> None:
    """Make producer compute what consumer computed, and drop consumer from the graph."""
    old_out, new_out = producer.outputs[0], consumer.outputs[0]
    for t in producer.inputs:
        if producer in t.dst_ops:
            t.dst_ops.remove(producer)
    for t in consumer.inputs:
        if consumer in t.dst_ops:
            t.dst_ops.remove(consumer)
    producer.inputs = new_inputs
    producer.epilogue = epilogue
    for t in new_inputs:
        if producer not in t.dst_ops:
            t.dst_ops.append(producer)
    new_out.src_op = producer
    producer.outputs = [new_out]
    old_out.src_op = None
    old_out.dst_ops = []


def _try_fuse(op: Op, consumer: Op) -> bool:
    x = op.outputs[0]
    ep = op.epilogue
    if isinstance(consumer, Relu):
        if ep is None or ep.activation is not Activation.IDENTITY:
            return False
        _absorb(op, consumer, list(op.inputs), Epilogue(Activation.RELU, ep.residual))
        return True
    if not isinstance(consumer, Add):
        return False
    other = consumer.inputs[1] if consumer.inputs[0] is x else consumer.inputs[0]
    if other is x:
        return False
    channels = x.shape()[-1]
    base = list(op.inputs[:2])
    if ep is None:  # conv/gemm + bias
        if not _is_bias_for(other, channels):
            return False
        _absorb(op, consumer, base + [other], Epilogue())
        return True
    # conv + bias + residual (before any activation)
    if (isinstance(op, Conv2d) and not ep.residual and ep.activation is Activation.IDENTITY
            and consumer.outputs[0].shape() == x.shape() and other.rank == 4
            and all(same_dim(a, b) for a, b in zip(other.shape(), x.shape()))
            and not _depends_on(other, op)):
        _absorb(op, consumer, base + [op.inputs[2], other], Epilogue(residual=True))
        return True
    return False


def fuse_epilogues(ops: list[Op]) -> list[Op]:
    """Returns the new op list (in order). Fuses greedily until nothing changes."""
    ops = list(ops)
    changed = True
    while changed:
        changed = False
        for op in ops:
            if not isinstance(op, (Conv2d, Gemm)):
                continue
            consumer = _sole_consumer(op.outputs[0])
            if consumer is not None and _try_fuse(op, consumer):
                ops.remove(consumer)
                changed = True
                break
    return ops
