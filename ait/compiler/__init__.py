"""Front door of the compiler: graph building (CPU), the reference run of outputs, and, with a
CUDA target, build_model (the .so) and compile_model (the .so, loaded)."""
from ait.compiler.build_graph import build_graph, run_reference
from ait.compiler.compile_model import build_model, compile_model

__all__ = ["build_graph", "build_model", "compile_model", "run_reference"]
