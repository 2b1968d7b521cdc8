"""Every conv2d kernel candidate that may apply to one op, across CUTLASS generations."""
from __future__ import annotations

from ait.backend.target import Target
from ait.ops.conv2d import cutlass2x, cutlass3x
from ait.ops.epilogue import Epilogue

Conv2dCandidate = cutlass2x.Conv2dCutlass2x | cutlass3x.Conv2dCutlass3x

# Bump when tiles, templates or filters change what a name means: it is part of the
# profile-cache key, so old choices are not reused for a different candidate list.
CANDIDATE_SET_VERSION = 1


def conv2d_candidates(target: Target, epilogue: Epilogue, c: int, k: int,
                      few_channels: bool = False) -> list[Conv2dCandidate]:
    """Candidates able to run a conv with `c` input and `k` output channels (NHWC, OHWI).

    `few_channels` marks the padded stem (c = 2, 4 or 8): FixedChannels 2.x kernels only
    (Hopper 3.x kernels are 8x slower there: TMA im2col boxes of 8 channels are too small).
    Cheap-to-compile 2.x kernels come first: `AIT_FIXED_KERNEL=first` / `profile=False`
    take the first entry. Hopper 3.x kernels only for arch 90."""
    out: list[Conv2dCandidate] = list(
        cutlass2x.candidates(epilogue, c, k, target.acc, few_channels=few_channels))
    if target.arch == 90 and not few_channels:
        out += cutlass3x.candidates(epilogue, c, k, target.acc)
    return out
