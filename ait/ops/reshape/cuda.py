"""Reshape is a view: memory planning aliased its output to its input; nothing runs."""
from __future__ import annotations

from ait.backend.emit import EmitContext, OpCode
from ait.ops.reshape.op import Reshape


def emit(op: Reshape, ctx: EmitContext) -> OpCode:
    return OpCode("", "rc = AIT_OK;  // view")
