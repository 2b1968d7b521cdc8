"""2-D convolution, NHWC activations, OHWI weights, with fused epilogues."""
from ait.ops.conv2d.op import Conv2d, conv2d
from ait.ops.conv2d.family import FAMILY
from ait.ops.conv2d.request import Conv2dProblem, ConvRequest

__all__ = ["FAMILY", "Conv2dProblem", "ConvRequest", "Conv2d", "conv2d"]
