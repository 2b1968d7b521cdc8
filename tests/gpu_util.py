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


def conv_candidates_first(monkeypatch, pick, why: str, limit: int | None = None) -> None:
    """Make every conv take the conv2d candidates `pick` selects (AIT_FIXED_KERNEL=first
    takes the first candidate; the picked ones go first). Patched where the conv2d family
    reads its candidate list, so a test forces a kernel through the model path."""
    from ait.ops.conv2d import family as conv2d_family

    original = conv2d_family.conv2d_candidates

    def picked_first(*args, **kwargs):
        out = original(*args, **kwargs)
        first = [c for c in out if pick(c)][:limit]
        assert first, why
        return first + [c for c in out if c not in first]

    monkeypatch.setattr(conv2d_family, "conv2d_candidates", picked_first)
    monkeypatch.setenv("AIT_FIXED_KERNEL", "first")
