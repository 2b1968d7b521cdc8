"""The pool op family, registered with the backend (ait.backend.family)."""
from __future__ import annotations

from ait.backend.family import OpFamily, register
from ait.ops.pool import cuda
from ait.ops.pool.op import Pool2d

FAMILY = register(OpFamily("pool", (Pool2d,), cuda.emit,
                           sources=tuple(cuda.SOURCES), prototypes=cuda.PROTOTYPES))
