"""PadChannels: [N, H, W, C] -> [N, H, W, C'] with zeros in channels C..C'-1."""
from __future__ import annotations

import numpy as np

from ait.ir import IntImm, Op, Tensor
from ait.ir.shape import Dim


class PadChannels(Op):
    kind = "pad_channels"

    def __init__(self, channels: int, name: str | None = None):
        super().__init__(name)
        self.channels = channels

    def describe(self) -> str:
        return f"channels={self.channels}"

    def infer_shapes(self) -> list[list[Dim]]:
        x = self.inputs[0]
        c = x.shape()[-1] if x.rank else None
        if x.rank != 4 or not isinstance(c, IntImm) or c.value > self.channels:
            raise self.shape_error(x, f"NHWC with static C <= {self.channels}")
        return [x.shape()[:-1] + [IntImm(self.channels)]]

    def reference(self, x):
        x = np.asarray(x, np.float32)
        return [np.pad(x, ((0, 0),) * 3 + ((0, self.channels - x.shape[-1]),))]


def pad_channels(x: Tensor, channels: int) -> Tensor:
    return PadChannels(channels)._connect([x])[0]
