"""Zero-padding of the channel (last) dim, e.g. RGB 3 -> 4 for the few-channels stem conv."""
from ait.ops.pad.op import PadChannels, pad_channels
from ait.ops.pad.family import FAMILY

__all__ = ["FAMILY", "PadChannels", "pad_channels"]
