"""What the compiler asks the tuner for: one request per distinct (op, epilogue, shape) and
batch bucket. The request classes live with their op family (ait/ops/<family>/request.py, made
by the family's `Tuning.requests`); the tuner sees them through this protocol."""
from __future__ import annotations

from ait.backend.family import KernelRequest, profiler_argv_without_batch

Request = KernelRequest

__all__ = ["Request", "profiler_argv_without_batch"]
