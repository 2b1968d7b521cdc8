"""Copy the graph that computes some outputs, so that the passes after it rewrite the copy and
never the frontend's tensors and ops (the first step of ``ait.compiler.build_graph``).

The copy has a new Tensor and Op object for everything the outputs depend on, with the same
names, dtypes, roles and op attributes; dims are shared (an IntVar is the same object in both),
constants are still bound by name. Consumers that no output needs are left out, as
``sort_graph`` would drop them. Nothing of the original is changed."""
from __future__ import annotations

from typing import Sequence

from ait.ir import Op, Tensor

# id(frontend tensor) -> (frontend tensor, its copy); the frontend tensor is held so that its
# id is not reused while the map lives
TensorCopies = dict[int, tuple[Tensor, Tensor]]


def copy_graph(outputs: Sequence[Tensor]) -> TensorCopies:
    """Copies every op the outputs depend on and every tensor those ops read or write."""
    ops: dict[int, tuple[Op, Op]] = {}
    stack = [t.src_op for t in outputs if t.src_op is not None]
    while stack:
        op = stack.pop()
        if id(op) in ops:
            continue
        ops[id(op)] = (op, op.detached_copy())
        stack.extend(t.src_op for t in op.inputs
                     if t.src_op is not None and id(t.src_op) not in ops)
    tensors: TensorCopies = {}

    def copy_of(t: Tensor) -> Tensor:
        if id(t) not in tensors:
            tensors[id(t)] = (t, t.detached_copy())
        return tensors[id(t)][1]

    for t in outputs:
        copy_of(t)
    for op, new in ops.values():
        new.inputs = [copy_of(t) for t in op.inputs]
        new.outputs = [copy_of(t) for t in op.outputs]
    for t, new in tensors.values():
        if t.src_op is not None:
            new.src_op = ops[id(t.src_op)][1]
        new.dst_ops = [ops[id(d)][1] for d in t.dst_ops if id(d) in ops]
    return tensors
