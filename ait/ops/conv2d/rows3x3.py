"""The strip-of-rows 3x3 conv (our own kernel, conv3x3_rows.cu; sm_90a) as a conv2d candidate.

Why: CUTLASS's conv kernels ran ResNet's 56x56 3x3 64 -> 64 convs at 54-55% of their floor at
batch 256. The kernel takes the 64 output channels as the wgmma's M and a strip of whole rows
(232 pixels) as its N, with every filter tap read from one input patch through a shifted
descriptor (the source's header says how). It is a candidate like any CUTLASS kernel: the
profiler times it beside them at every batch bucket and checks its output against the
reference, so it runs only where it won.

It takes convs of 64 input and 64 output channels, 3x3 / stride 1 / pad 1 / dilation 1, at
most MAX_WIDTH wide, with any epilogue (bias, ReLU, residual), on sm_90. Its accumulator is
fp32 whatever the target's (fp16 accumulation asks for speed, and this kernel has no faster
fp16 form). `AIT_ROWS3X3=0` leaves it out (A/B against the CUTLASS kernels)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ait.backend.kernel import Family, TemplateKernel
from ait.ir.env import env_switch
from ait.ir.epilogue import Epilogue

SOURCE = Path(__file__).with_name("conv3x3_rows.cu")
ENV = "AIT_ROWS3X3"
CHANNELS = 64


def _max_width() -> int:
    """The kernel's kMaxWidth, from its source: (kPlaneUsed - kN - 1) / 2 - 2."""
    text = SOURCE.read_text()
    used = int(re.search(r"kPlaneUsed = (\d+);", text).group(1))
    n = int(re.search(r"kN = (\d+);", text).group(1))
    assert "kMaxWidth = (kPlaneUsed - kN - 1) / 2 - 2;" in text
    return (used - n - 1) // 2 - 2


MAX_WIDTH = _max_width()


@dataclass(frozen=True)
class Conv2dRows3x3(TemplateKernel):
    TEMPLATE: ClassVar[str] = "ops/conv2d/templates/conv2d_rows3x3.cu.j2"
    family: ClassVar[Family] = Family.CONV2D
    generation: ClassVar[str] = "rows"
    compile_cost: ClassVar[float] = 1.0  # one small kernel, no CUTLASS headers (~4 s of nvcc)
    waits_for_prior_grids: ClassVar[bool] = True

    epilogue: Epilogue

    @property
    def name(self) -> str:
        return f"conv2d_rows3x3_n232_{self.epilogue.tag}_f32"

    def template_values(self) -> dict:
        return {"source": SOURCE.read_text()}


def applies(c: int, k: int, r: int | None, s: int | None, stride, pad, dilation,
            width: int | None) -> bool:
    """Whether the kernel takes the conv (its entry answers AIT_ERR_CANNOT_IMPLEMENT else)."""
    return (c == CHANNELS and k == CHANNELS and r == 3 and s == 3 and tuple(stride) == (1, 1)
            and tuple(pad) == (1, 1) and tuple(dilation) == (1, 1) and width is not None
            and 1 <= width <= MAX_WIDTH)


def candidates(epilogue: Epilogue, c: int, k: int, r: int | None, s: int | None, stride, pad,
               dilation, width: int | None) -> list[Conv2dRows3x3]:
    if not env_switch(ENV, True) or not applies(c, k, r, s, stride, pad, dilation, width):
        return []
    return [Conv2dRows3x3(epilogue)]
