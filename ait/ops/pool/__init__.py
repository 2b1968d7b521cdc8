"""2-D max and average pooling over NHWC tensors."""
from ait.ops.pool.op import Pool2d, PoolKind, avg_pool2d, max_pool2d
from ait.ops.pool.family import FAMILY

__all__ = ["FAMILY", "Pool2d", "PoolKind", "avg_pool2d", "max_pool2d"]
