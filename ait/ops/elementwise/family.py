"""The elementwise op family, registered with the backend (ait.backend.family)."""
from __future__ import annotations

from ait.backend.family import OpFamily, register
from ait.ops.elementwise import cuda
from ait.ops.elementwise.op import Add, Relu

FAMILY = register(OpFamily("elementwise", (Add, Relu), cuda.emit,
                           sources=tuple(cuda.SOURCES), prototypes=cuda.PROTOTYPES))
