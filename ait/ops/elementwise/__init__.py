"""Elementwise ops (add with broadcasting, relu). Fusion folds them into conv/gemm epilogues."""
from ait.ops.elementwise.op import Add, Relu, add, relu
from ait.ops.elementwise.family import FAMILY

__all__ = ["FAMILY", "Add", "Relu", "add", "relu"]
