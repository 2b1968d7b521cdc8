"""2-D convolution, NHWC activations, OHWI weights, with fused epilogues."""
from ait.ops.conv2d.op import Conv2d, conv2d

__all__ = ["Conv2d", "conv2d"]
