"""Reshape and flatten: views that share their input's memory."""
from ait.ops.reshape.op import Reshape, flatten, reshape
from ait.ops.reshape.family import FAMILY

__all__ = ["FAMILY", "Reshape", "flatten", "reshape"]
