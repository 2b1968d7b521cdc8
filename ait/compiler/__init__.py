"""Front door of the compiler: graph building (CPU), the reference run of outputs, and, with a
CUDA target, compile_model."""
from ait.compiler.build_graph import build_graph, run_reference
from ait.compiler.compile_model import compile_model

__all__ = ["build_graph", "compile_model", "run_reference"]
