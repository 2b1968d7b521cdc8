"""Every conv2d kernel candidate that may apply to one op, across CUTLASS generations."""
from __future__ import annotations

from collections.abc import Sequence

from ait.backend.target import Target
from ait.ops.conv2d import cutlass2x, cutlass3x, gemm3x, rows3x3, splitk
from ait.ir.epilogue import Epilogue

Conv2dCandidate = (cutlass2x.Conv2dCutlass2x | cutlass3x.Conv2dCutlass3x
                   | cutlass3x.Conv2dCutlass3xPersistent | gemm3x.Conv2dGemm3x
                   | splitk.Conv2dSplitK | rows3x3.Conv2dRows3x3)

# Bump when tiles, templates or filters change what a name means: it is part of the
# profile-cache key, so old choices are not reused for a different candidate list.
# 5: few-stage 3.x tiles; 6: parallel split-K 2.x kernels (splitk.py); 7: persistent cooperative
# 3.x conv kernels for r*s > 1 (conv2d_3xp_*, cutlass3x.Conv2dCutlass3xPersistent); 8: the
# cluster form of split-K on sm_90 (conv2d_2x_sk{S}c_*); 9: the strip-of-rows 3x3 conv on sm_90
# (conv2d_rows3x3_*, rows3x3.py)
CANDIDATE_SET_VERSION = 9


def conv2d_candidates(target: Target, epilogue: Epilogue, c: int, k: int,
                      few_channels: bool = False, *, r: int | None = None,
                      s: int | None = None, stride: Sequence[int] = (1, 1),
                      pad: Sequence[int] = (0, 0), dilation: Sequence[int] = (1, 1),
                      w: int | None = None) -> list[Conv2dCandidate]:
    """Candidates able to run a conv with `c` input and `k` output channels (NHWC, OHWI)
    and an `r` x `s` filter with `stride`, `pad`, `dilation`.

    `few_channels` marks the padded stem (c = 2, 4 or 8): FixedChannels 2.x kernels only
    (Hopper 3.x kernels are 8x slower there: TMA im2col boxes of 8 channels are too small).
    Cheap-to-compile 2.x kernels come first: `AIT_FIXED_KERNEL=first` / `profile=False`
    take the first entry. Hopper 3.x kernels only for arch 90; of those, the persistent conv
    kernels only for filters with more than one tap (r*s > 1), the persistent GEMM
    kernels only for pointwise convs (1x1, stride 1, pad 0, dilation 1), and their gather +
    GEMM variant only for strided 1x1 convs (pad 0, dilation 1, stride > 1). Without `r` and `s`
    the geometry is unknown and only the kernels that take any geometry are listed; `w`, the
    input width, admits our own 3x3 row kernel on sm_90 (rows3x3.applies)."""
    out: list[Conv2dCandidate] = list(
        cutlass2x.candidates(epilogue, c, k, target.acc, few_channels=few_channels))
    if target.arch == 90 and not few_channels:
        taps = r * s if r is not None and s is not None else 1
        out += cutlass3x.candidates(epilogue, c, k, target.acc, shallow=taps > 1)
        if taps > 1:
            out += cutlass3x.persistent_candidates(epilogue, c, k, target.acc)
        if r is not None and s is not None and gemm3x.is_pointwise(r, s, stride, pad, dilation):
            out += gemm3x.candidates(epilogue, c, k, target.acc)
        elif r is not None and s is not None and gemm3x.is_strided_pointwise(r, s, stride, pad,
                                                                              dilation):
            out += gemm3x.candidates(epilogue, c, k, target.acc, strided=True)
        out += rows3x3.candidates(epilogue, c, k, r, s, stride, pad, dilation, w)
    if r is not None and s is not None and not few_channels:
        out += splitk.candidates(epilogue, c, k, r, s, target.acc, cluster=target.arch == 90
                                 and splitk.cluster_enabled())
    return out
