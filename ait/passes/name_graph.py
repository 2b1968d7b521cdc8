"""Give every op and tensor a unique C-identifier name; user names are kept (and checked)."""
from __future__ import annotations

import re

from ait.ir import AitError, Op, Tensor, TensorKind

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def name_graph(ops: list[Op], inputs: list[Tensor]) -> None:
    seen: dict[str, Tensor] = {}
    tensors: list[Tensor] = list(inputs)
    for op in ops:
        tensors += op.inputs + op.outputs
    for t in tensors:
        if t.name is None or id(seen.get(t.name)) == id(t):
            continue
        if not _IDENT.match(t.name):
            raise AitError(f"tensor name {t.name!r} is not a valid identifier (letters, digits, "
                           "'_'; parameters get theirs from name_parameter_tensor)")
        if t.name in seen:
            raise AitError(f"two different tensors are both named {t.name!r}")
        seen[t.name] = t
    counts: dict[str, int] = {}
    for i, op in enumerate(ops):
        op.name = op.name or f"{op.kind}_{i}"
        for j, t in enumerate(op.outputs):
            if t.name is None:
                base = f"{op.name}_out{j}" if len(op.outputs) > 1 else f"{op.name}_out"
                t.name = base
                while t.name in seen:
                    counts[base] = counts.get(base, 0) + 1
                    t.name = f"{base}_{counts[base]}"
                seen[t.name] = t
    unnamed = [t for t in tensors if t.name is None]
    if unnamed:
        kinds = sorted({t.kind.value for t in unnamed})
        hint = (" (call name_parameter_tensor() on the module)"
                if TensorKind.CONSTANT.value in kinds else "")
        raise AitError(f"{len(unnamed)} {'/'.join(kinds)} tensor(s) have no name{hint}: "
                       f"{unnamed[:3]}")
