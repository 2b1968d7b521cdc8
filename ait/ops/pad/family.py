"""The pad op family, registered with the backend (ait.backend.family)."""
from __future__ import annotations

from ait.backend.family import OpFamily, register
from ait.ops.pad import cuda
from ait.ops.pad.op import PadChannels

FAMILY = register(OpFamily("pad", (PadChannels,), cuda.emit,
                           sources=tuple(cuda.SOURCES), prototypes=cuda.PROTOTYPES))
