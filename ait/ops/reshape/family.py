"""The reshape op family, registered with the backend (ait.backend.family)."""
from __future__ import annotations

from ait.backend.family import OpFamily, register
from ait.ops.reshape import cuda
from ait.ops.reshape.op import Reshape

FAMILY = register(OpFamily("reshape", (Reshape,), cuda.emit))
