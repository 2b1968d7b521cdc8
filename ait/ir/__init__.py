"""The graph IR: symbolic dims, tensors, the op base class, epilogue data and the graph.

ait.ir imports nothing else of ait (tests/test_layering.py)."""
from ait.ir.epilogue import Activation, Epilogue
from ait.ir.errors import AitError, ShapeError
from ait.ir.graph import Graph
from ait.ir.op import Op
from ait.ir.shape import Dim, IntImm, IntVar, as_dim, shape_str
from ait.ir.tensor import DTYPE_BYTES, Tensor, TensorKind

__all__ = [
    "AitError", "ShapeError", "Graph", "Op", "Dim", "IntImm", "IntVar", "as_dim", "shape_str",
    "DTYPE_BYTES", "Tensor", "TensorKind", "Activation", "Epilogue",
]
