"""What the compiler asks the tuner for, for one gemm_rcr op at one batch bucket."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.family import profiler_argv_without_batch
from ait.backend.kernel import Family
from ait.ir.epilogue import Epilogue


@dataclass(frozen=True)
class GemmRequest:
    """gemm_rcr: y[m, n] = act(x[m, k] @ w[n, k]^T + bias[n])."""

    family: ClassVar[Family] = Family.GEMM
    batch_flag: ClassVar[str] = "m"

    epilogue: Epilogue
    m: int
    n: int
    k: int

    def dims(self) -> tuple[tuple[str, object], ...]:
        return (("m", self.m), ("n", self.n), ("k", self.k))

    @property
    def batch(self) -> int:
        return self.m

    def profiler_argv(self) -> list[str]:
        return [a for key, value in self.dims() for a in (f"--{key}", str(value))]

    def shape_argv(self) -> list[str]:
        """The profiler arguments without the batch (`--m` lists every batch)."""
        return profiler_argv_without_batch(self)

    def describe(self) -> str:
        return f"gemm_rcr {self.epilogue.tag} [m={self.m} n={self.n} k={self.k}]"
