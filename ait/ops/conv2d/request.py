"""What the compiler asks the tuner for, for one conv2d op: its batch-free problem, and the
request (problem, batch bucket). The problem's fields are the one list the profiler argv,
the profiler's parser and AitConv2dArgs are checked against (tests/test_problem_fields.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.kernel import Family
from ait.backend.problem import KernelRequest, Problem, dim
from ait.ir.epilogue import Epilogue


@dataclass(frozen=True)
class Conv2dProblem(Problem):
    """conv2d fprop, NHWC x [n, h, w, c], OHWI w [k, r, s, c], fused epilogue; n apart."""

    label: ClassVar[str] = "conv2d"
    batch_flag: ClassVar[str] = "n"
    derived_abi: ClassVar[tuple[str, ...]] = ("p", "q")  # the output height and width

    epilogue: Epilogue
    h: int
    w: int = dim(abi=("w_",))  # w_ because w is the weight pointer
    c: int = dim()
    k: int = dim()
    r: int = dim()
    s: int = dim()
    pad: tuple[int, int] = dim(abi=("pad_h", "pad_w"), default=(0, 0))
    stride: tuple[int, int] = dim(abi=("stride_h", "stride_w"), default=(1, 1))
    dilation: tuple[int, int] = dim(abi=("dilation_h", "dilation_w"), default=(1, 1))
    # padded stem: adds FixedChannels kernels; chooses candidates, no profiler flag
    few_channels: bool = dim(argv=False, default=False)

    def __post_init__(self):
        for f in ("pad", "stride", "dilation"):  # accept lists from callers, stay hashable
            object.__setattr__(self, f, tuple(int(v) for v in getattr(self, f)))


@dataclass(frozen=True, repr=False)  # KernelRequest.__repr__: the dims() spelled out
class ConvRequest(KernelRequest):
    """One conv2d problem at one batch bucket (`n`)."""

    family: ClassVar[Family] = Family.CONV2D
    problem_type: ClassVar[type[Problem]] = Conv2dProblem  # the fields: (problem, batch)
