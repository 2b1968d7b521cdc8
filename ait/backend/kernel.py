"""What every kernel candidate offers, whatever its family or CUTLASS generation.

A candidate is small frozen data (tile, stages, alignment, epilogue, accumulator) with a stable
`name` (a C identifier: the exported symbol) and `render()` -> the full .cu source of one
translation unit exporting `NAME` and `NAME_workspace_bytes` (see include/ait_abi.h).
Names are built from the data and never parsed back.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Protocol

from ait.backend.templates import render
from ait.ir.epilogue import Activation, Epilogue


class Family(enum.Enum):
    CONV2D = "conv2d"
    GEMM = "gemm"


class KernelCandidate(Protocol):
    family: ClassVar[Family]
    compile_cost: ClassVar[float]  # relative nvcc time (a Hopper 3.x kernel ~5x a 2.x one)
    # every kernel it launches waits for its predecessors before touching global memory
    # (ait_pdl.h; CUTLASS 3.x with CUTLASS_ENABLE_GDC_FOR_SM90): may launch early (PDL)
    waits_for_prior_grids: ClassVar[bool]
    epilogue: Epilogue

    @property
    def name(self) -> str: ...

    def render(self, split: bool = False) -> str: ...


class TemplateKernel:
    """Base of the candidate dataclasses: `render()` fills the class's TEMPLATE with the
    kernel's name, its epilogue's values and what `template_values()` adds."""

    TEMPLATE: ClassVar[str]
    waits_for_prior_grids: ClassVar[bool] = False  # CUTLASS 2.x kernels do not wait
    # its template renders the split passes (-DAIT_DEVICE_PASS / -DAIT_HOST_PASS) with
    # `split`: the Hopper kernels, whose device and host sides compile apart (tune.build)
    splittable: ClassVar[bool] = False
    epilogue: Epilogue

    @property
    def name(self) -> str:
        raise NotImplementedError

    def template_values(self) -> dict:
        raise NotImplementedError

    def render(self, split: bool = False) -> str:
        """The kernel's source; `split`: with the two passes of a split build as well (the
        source compiles as without it when neither pass macro is defined)."""
        if split and not self.splittable:
            raise ValueError(f"{self.name}: its template has no split passes")
        return render(self.TEMPLATE, name=self.name, split=split, **self.template_values(),
                      **epilogue_values(self.epilogue))


@dataclass(frozen=True)
class Tile2x:
    """A CUTLASS 2.x threadblock tile (GEMM view: M, N, K), its warp grid and pipeline depth."""

    shape: tuple[int, int, int]
    warps: tuple[int, int, int]
    stages: int

    @property
    def warp_tile(self) -> tuple[int, int, int]:
        return tuple(s // w for s, w in zip(self.shape, self.warps))

    def template_values(self) -> dict:
        return {"tile": self.shape, "warp_tile": self.warp_tile, "stages": self.stages}

    def name_part(self) -> str:
        return f"{dims_tag(self.shape)}_{self.stages}s_w{dims_tag(self.warps[:2])}"


def best_alignment(value: int) -> int:
    """The widest vector (in fp16 elements, at most 16 bytes) that divides ``value``."""
    return next(a for a in (8, 4, 2, 1) if value % a == 0)


ACC_CPP = {"f32": "float", "f16": "cutlass::half_t"}


def epilogue_values(epilogue: Epilogue) -> dict:
    """Template values shared by every kernel template."""
    return {
        "relu": epilogue.activation is Activation.RELU,
        "residual": epilogue.residual,
        "epilogue_tag": epilogue.tag,
    }


def dims_tag(shape: tuple[int, ...]) -> str:
    """A tile or cluster shape as part of a kernel name: (128, 64, 32) -> "128x64x32" (not
    `ir.shape.shape_str`, the "[n, h, w, c]" of messages)."""
    return "x".join(str(v) for v in shape)
