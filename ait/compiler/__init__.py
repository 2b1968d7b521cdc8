"""Front door of the compiler: graph building (CPU) and, with a CUDA target, compile_model."""
from ait.compiler.build_graph import build_graph

__all__ = ["build_graph"]
