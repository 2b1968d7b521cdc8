"""Image preprocessing shared by the inference scripts (numpy + Pillow, no torch):
resize the short side, center-crop, scale to [0, 1], normalise; HWC float32 out."""
from __future__ import annotations

from typing import Sequence

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def synthetic_image(size: int = 224) -> np.ndarray:
    """A deterministic smooth RGB pattern in [0, 1], HWC: a stand-in when no image is given."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([np.sin(6 * xx) * 0.5 + 0.5, np.cos(4 * yy) * 0.5 + 0.5, (xx * yy) ** 0.5],
                   axis=-1)
    return img.astype(np.float32)


def load_image(path: str, size: int = 224, crop_pct: float = 0.875,
               interpolation: str = "bilinear") -> np.ndarray:
    """Resize so the short side is size / crop_pct, center-crop size x size; [0, 1], HWC."""
    from PIL import Image

    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
                "nearest": Image.NEAREST}.get(interpolation, Image.BILINEAR)
    im = Image.open(path).convert("RGB")
    short = int(size / crop_pct)
    w, h = im.size
    r = short / min(w, h)
    im = im.resize((max(size, round(w * r)), max(size, round(h * r))), resample)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)), np.float32) / 255.0


def preprocess(path: str | None, size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
               std: Sequence[float] = IMAGENET_STD, crop_pct: float = 0.875,
               interpolation: str = "bilinear") -> np.ndarray:
    """The normalised HWC image from ``path`` (or the synthetic one when None)."""
    img = synthetic_image(size) if path is None else load_image(path, size, crop_pct,
                                                                 interpolation)
    return ((img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).astype(np.float32)


def preprocess_for(path: str | None, cfg: dict) -> np.ndarray:
    """``preprocess`` with a timm ``pretrained_cfg`` (input size, mean, std, crop, resampling)."""
    return preprocess(path, cfg["input_size"][-1], cfg["mean"], cfg["std"],
                      cfg.get("crop_pct", 0.875), cfg.get("interpolation", "bicubic"))
