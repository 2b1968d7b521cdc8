"""The space_to_depth op family, registered with the backend (ait.backend.family)."""
from __future__ import annotations

from ait.backend.family import OpFamily, register
from ait.ops.space_to_depth import cuda
from ait.ops.space_to_depth.op import SpaceToDepth

FAMILY = register(OpFamily("space_to_depth", (SpaceToDepth,), cuda.emit,
                           sources=tuple(cuda.SOURCES), prototypes=cuda.PROTOTYPES))
