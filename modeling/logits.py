"""What the example scripts say about a model's output logits before they use them."""
from __future__ import annotations

import numpy as np


def nonfinite_report(logits: np.ndarray) -> str | None:
    """None when every logit is finite, else the message the scripts fail with: an fp16
    network gives inf / NaN when an activation outgrows fp16 (65504), which a top-5 list or
    a relative error would otherwise hide (NaN compares false with every limit)."""
    bad = ~np.isfinite(logits)
    if not bad.any():
        return None
    rows = np.flatnonzero(bad.reshape(len(logits), -1).any(axis=1))
    shown = ", ".join(map(str, rows[:8])) + (", ..." if len(rows) > 8 else "")
    return (f"the model's output has {int(bad.sum())} non-finite logit(s) in {len(rows)} of "
            f"{len(logits)} image(s) ({shown}): an activation outgrew fp16 (max 65504) inside "
            "the network; the weights (or the input) hold values that fp16 cannot carry "
            "through this model")
