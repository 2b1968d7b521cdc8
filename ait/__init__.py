"""ait: an AITemplate-style ahead-of-time compiler for CNN inference on NVIDIA GPUs.

Importing ait never imports torch: the numpy path must work where torch is absent.
"""
from ait import ops as _ops  # noqa: F401  (registers every op family: ait.backend.family)
from ait.backend.target import Target, detect_target
from ait.compiler import build_graph, compile_model, run_reference
from ait.frontend import nn
from ait.ir import AitError, IntImm, IntVar, ShapeError, Tensor
from ait.runtime import AITData, Model

__version__ = "0.1.0"

__all__ = ["AITData", "Model", "Target", "build_graph", "compile_model", "detect_target", "nn",
           "AitError", "IntImm", "IntVar", "ShapeError", "Tensor",
           "run_reference", "__version__"]
