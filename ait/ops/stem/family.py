"""The stem op family, registered with the backend (ait.backend.family)."""
from __future__ import annotations

from ait.backend.family import OpFamily, register
from ait.ops.stem import cuda
from ait.ops.stem.op import StemConvPool

FAMILY = register(OpFamily("stem", (StemConvPool,), cuda.emit,
                           sources=tuple(cuda.SOURCES), prototypes=cuda.PROTOTYPES))
