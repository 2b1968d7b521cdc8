"""Topological sort from the outputs back; ops that no output depends on are dropped
(dead-op removal) and unlinked from their inputs."""
from __future__ import annotations

from ait.ir import AitError, Op, Tensor


def sort_graph(outputs: list[Tensor]) -> list[Op]:
    order: list[Op] = []
    state: dict[int, int] = {}  # op uid -> 1 visiting, 2 done
    for out in outputs:
        stack: list[tuple[Op, bool]] = [(out.src_op, False)] if out.src_op else []
        while stack:
            op, expanded = stack.pop()
            if expanded:
                state[op._uid] = 2
                order.append(op)
                continue
            if state.get(op._uid) == 2:
                continue
            if state.get(op._uid) == 1:
                raise AitError(f"cycle in the graph through op {op!r}")
            state[op._uid] = 1
            stack.append((op, True))
            for t in reversed(op.inputs):
                if t.src_op is not None and state.get(t.src_op._uid) != 2:
                    stack.append((t.src_op, False))
    live = {op._uid for op in order}
    for op in order:  # forget consumers that no output needs
        for t in op.inputs + op.outputs:
            t.dst_ops = [d for d in t.dst_ops if d._uid in live]
    return order
