"""Zero-padding of the channel (last) dim, e.g. RGB 3 -> 4 for the few-channels stem conv."""
from ait.ops.pad.op import PadChannels, pad_channels

__all__ = ["PadChannels", "pad_channels"]
