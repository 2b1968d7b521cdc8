"""Reshape and flatten: views that share their input's memory."""
from ait.ops.reshape.op import Reshape, flatten, reshape

__all__ = ["Reshape", "flatten", "reshape"]
