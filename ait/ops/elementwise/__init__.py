"""Elementwise ops (add with broadcasting, relu). Fusion folds them into conv/gemm epilogues."""
from ait.ops.elementwise.op import Add, Relu, add, relu

__all__ = ["Add", "Relu", "add", "relu"]
