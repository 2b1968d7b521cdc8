"""What the compiler asks the tuner for: one request per distinct (op, epilogue, shape) and
batch bucket, a family's batch-free problem (ait.backend.problem) at one batch. The request
classes live with their op family (ait/ops/<family>/request.py, made by the family's
`Tuning.requests`); the tuner sees them through this base class."""
from __future__ import annotations

from ait.backend.problem import KernelRequest, Problem

Request = KernelRequest

__all__ = ["Problem", "Request"]
