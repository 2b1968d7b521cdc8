"""AITemplate-style frontend: Tensor, IntVar, IntImm and the ``nn`` modules."""
from ait.frontend import nn
from ait.ir import IntImm, IntVar, Tensor

__all__ = ["nn", "IntImm", "IntVar", "Tensor"]
