"""ResNet-50's conv and fc problems, one per distinct layer shape and epilogue: what
scripts/validate_candidates.py checks every kernel candidate on (ait.tune.validate)."""
from __future__ import annotations

from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.ops.gemm import GemmRequest

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)

# (label, h, w, c, k, r, stride, pad, few_channels, epilogues) of ResNet-50 layers; the stems
# (space-to-depth: 16 channels, 4x4; padded: 4 or 8 channels, 7x7/2) only ever have bias_relu,
# the downsample convs only bias. The 1x1 stride-1 rows also get
# the persistent-GEMM candidates (conv2d/gemm3x.py): N = 256 / 64 / 1024 output channels.
RESNET50_CONVS = (
    ("56x56 64->64 3x3", 56, 56, 64, 64, 3, 1, 1, False, EPILOGUES),
    ("56x56 64->256 1x1", 56, 56, 64, 256, 1, 1, 0, False, EPILOGUES),
    ("56x56 256->64 1x1", 56, 56, 256, 64, 1, 1, 0, False, EPILOGUES),
    ("14x14 256->1024 1x1", 14, 14, 256, 1024, 1, 1, 0, False, EPILOGUES),
    ("28x28 128->128 3x3", 28, 28, 128, 128, 3, 1, 1, False, EPILOGUES),
    ("56x56 256->512 1x1 s2", 56, 56, 256, 512, 1, 2, 0, False, EPILOGUES),
    ("28x28 512->1024 1x1 s2", 28, 28, 512, 1024, 1, 2, 0, False, (BIAS,)),
    ("14x14 1024->2048 1x1 s2", 14, 14, 1024, 2048, 1, 2, 0, False, (BIAS,)),
    ("s2d stem 115x115 16->64 4x4", 115, 115, 16, 64, 4, 1, 0, False, (BIAS_RELU,)),
    ("stem 224x224 4->64 7x7 s2", 224, 224, 4, 64, 7, 2, 3, True, (BIAS_RELU,)),
    ("stem 224x224 8->64 7x7 s2", 224, 224, 8, 64, 7, 2, 3, True, (BIAS_RELU,)),
    ("7x7 512->512 3x3", 7, 7, 512, 512, 3, 1, 1, False, EPILOGUES),
)


def resnet50_requests(batches):
    out = []
    for n in batches:
        for label, h, w, c, k, r, stride, pad, few, epilogues in RESNET50_CONVS:
            for ep in epilogues:
                out.append((label, ConvRequest.of(ep, n, h, w, c, k, r, r, (pad, pad),
                                               (stride, stride), (1, 1), few)))
        for ep in (BIAS, BIAS_RELU):
            out.append(("fc 2048->1000", GemmRequest.of(ep, n, 1000, 2048)))
    return out
