"""Helpers shared by the GPU tests."""
from __future__ import annotations

import numpy as np


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def random_params(module, seed=0, scale=None) -> dict[str, np.ndarray]:
    """He-like random constants so activations keep their scale through layers."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, p in module.named_parameters():
        shape = p.shape()
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale or (np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.1)
        out[name.replace(".", "_")] = (rng.standard_normal(shape) * s).astype(np.float16)
    return out
