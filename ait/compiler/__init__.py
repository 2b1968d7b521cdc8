"""Front door of the compiler: graph building (CPU) and, with a CUDA target, compile_model."""
from ait.compiler.build_graph import build_graph
from ait.compiler.compile_model import build_model, compile_model

__all__ = ["build_graph", "build_model", "compile_model"]
