"""Space-to-depth with zero padding: turns a strided few-channel conv (the ResNet stem) into
a stride-1 conv over more channels that the ordinary kernels serve well."""
from ait.ops.space_to_depth.op import SpaceToDepth, space_to_depth
from ait.ops.space_to_depth.family import FAMILY

__all__ = ["FAMILY", "SpaceToDepth", "space_to_depth"]
