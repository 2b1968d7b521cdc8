"""The ResNet stem in one op and kernel: space-to-depth + 4x4 conv (bias, ReLU) + 3x3/2 max
pool on the raw image, so the conv output never goes through global memory."""
from ait.ops.stem.op import StemConvPool, stem_conv_pool
from ait.ops.stem.family import FAMILY

__all__ = ["FAMILY", "StemConvPool", "stem_conv_pool"]
