"""What the compiler asks the tuner for, for one conv2d op at one batch bucket."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.family import profiler_argv_without_batch
from ait.backend.kernel import Family
from ait.ir.epilogue import Epilogue


@dataclass(frozen=True)
class ConvRequest:
    """conv2d fprop, NHWC x [n, h, w, c], OHWI w [k, r, s, c], fused epilogue."""

    family: ClassVar[Family] = Family.CONV2D
    batch_flag: ClassVar[str] = "n"

    epilogue: Epilogue
    n: int
    h: int
    w: int
    c: int
    k: int
    r: int
    s: int
    pad: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    few_channels: bool = False  # padded stem: adds FixedChannels kernels

    def __post_init__(self):
        for f in ("pad", "stride", "dilation"):  # accept lists from callers, stay hashable
            object.__setattr__(self, f, tuple(int(v) for v in getattr(self, f)))

    def dims(self) -> tuple[tuple[str, object], ...]:
        return (("n", self.n), ("h", self.h), ("w", self.w), ("c", self.c), ("k", self.k),
                ("r", self.r), ("s", self.s), ("pad", self.pad), ("stride", self.stride),
                ("dilation", self.dilation), ("few_channels", self.few_channels))

    @property
    def batch(self) -> int:
        return self.n

    def profiler_argv(self) -> list[str]:
        args = []
        for key, value in self.dims():
            if key == "few_channels":
                continue
            args += [f"--{key}", *map(str, value if isinstance(value, tuple) else (value,))]
        return args

    def shape_argv(self) -> list[str]:
        """The profiler arguments without the batch: problems that differ only in batch share
        one profiler process (`--n` then lists every batch)."""
        return profiler_argv_without_batch(self)

    def describe(self) -> str:
        d = " ".join(f"{k}={v}" for k, v in self.dims() if k != "few_channels" or v)
        return f"conv2d {self.epilogue.tag} [{d}]"
