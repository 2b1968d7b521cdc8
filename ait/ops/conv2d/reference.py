"""numpy reference for NHWC/OHWI convolution (im2col + one matmul, float32)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_nhwc(x: np.ndarray, w: np.ndarray, stride, pad, dilation) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    w = np.asarray(w, dtype=np.float32)
    k, r, s, c = w.shape
    xp = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    span_h, span_w = dilation[0] * (r - 1) + 1, dilation[1] * (s - 1) + 1
    # windows: [N, P', Q', C, span_h, span_w] -> pick strided output positions and taps.
    win = sliding_window_view(xp, (span_h, span_w), axis=(1, 2))
    win = win[:, :: stride[0], :: stride[1], :, :: dilation[0], :: dilation[1]]
    n, p, q = win.shape[:3]
    cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * p * q, r * s * c)  # taps in (R, S, C) order
    y = cols @ w.reshape(k, r * s * c).T
    return y.reshape(n, p, q, k)
