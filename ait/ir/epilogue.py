"""Epilogue data for fused ops: what happens to the accumulator before it is stored.

Bias, residual add and activation are data on one op, not separate op classes, so one
conv op and one set of kernel templates cover every fused variant.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Activation(enum.Enum):
    IDENTITY = "identity"
    RELU = "relu"


@dataclass(frozen=True)
class Epilogue:
    """y = activation(acc + bias (+ residual)).  Bias is always present in fused ops."""

    activation: Activation = Activation.IDENTITY
    residual: bool = False

    @property
    def tag(self) -> str:
        """Short stable name used in kernel names and cache keys: bias, bias_relu, bias_add_relu."""
        parts = ["bias"]
        if self.residual:
            parts.append("add")
        if self.activation is not Activation.IDENTITY:
            parts.append(self.activation.value)
        return "_".join(parts)


BIAS = Epilogue()
BIAS_RELU = Epilogue(Activation.RELU)
BIAS_ADD = Epilogue(residual=True)
BIAS_ADD_RELU = Epilogue(Activation.RELU, residual=True)
