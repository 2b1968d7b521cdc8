"""Running compiled graphs: the numpy reference interpreter (CPU) and the CUDA Model."""
from ait.runtime.model import AITData, Model
from ait.runtime.reference import run_reference

__all__ = ["AITData", "Model", "run_reference"]
