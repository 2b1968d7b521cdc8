"""Image preprocessing shared by the inference scripts (numpy + Pillow, no torch):
resize the short side, center-crop, scale to [0, 1], normalise; HWC float32 out."""
from __future__ import annotations

import os
from pathlib import Path
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


def structured_noise(n: int, size: tuple[int, int] = (224, 224), seed: int = 0):
    """``n`` random NCHW float32 torch images with structure (smooth colour fields plus
    noise), from a generator seeded with ``seed``: white noise alone gives every image nearly
    the same features, and a top-1 comparison then hinges on ties."""
    import torch

    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n, 3, 7, 7, generator=g) * 1.5
    x = torch.nn.functional.interpolate(low, size=tuple(size), mode="bicubic",
                                        align_corners=False)
    return x + 0.3 * torch.randn(n, 3, *size, generator=g)


# Pillow modes of more than 8 bits per sample: (full-scale value or None, what it is)
_WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": None,
               "F": None}


def open_image(path):
    """The image at ``path`` (a file name, or a binary file object such as the BytesIO of a
    request body) as (Pillow image of 8-bit RGB or 32-bit float "F", full scale); errors name
    the file. 16-bit grayscale is scaled from its own range (65535), not clipped at 255 as
    ``convert("RGB")`` would."""
    from PIL import Image, UnidentifiedImageError

    from ait import AitError, fs

    if isinstance(path, (str, os.PathLike)) and (why := fs.not_a_file(path)) is not None:
        raise AitError(f"image file {path} {why}")
    try:
        im = Image.open(path)
        im.load()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise AitError(f"image file {path}: cannot be read as an image ({e})") from None
    if im.mode not in _WIDE_MODES:
        return im.convert("RGB"), 255.0
    arr = np.asarray(im)
    full = _WIDE_MODES[im.mode]
    if full is None:  # "I" (Pillow's 16-bit PNG on some versions, 32-bit TIFF) or "F"
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if im.mode == "I" and lo >= 0 and hi <= 65535:
            full = 65535
        else:
            raise AitError(f"image file {path}: {im.mode!r} pixels ({arr.dtype}, {lo:g}..{hi:g}) "
                           "have no known full scale; expected 8- or 16-bit images")
    return Image.fromarray(arr.astype(np.float32), mode="F"), float(full)


def load_image(path, size: int = 224, crop_pct: float = 0.875,
               interpolation: str = "bilinear") -> np.ndarray:
    """Resize so the short side is size / crop_pct, center-crop size x size; [0, 1], HWC."""
    from PIL import Image

    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
                "nearest": Image.NEAREST}.get(interpolation, Image.BILINEAR)
    im, full = open_image(path)
    short = int(size / crop_pct)
    w, h = im.size
    r = short / min(w, h)
    im = im.resize((max(size, round(w * r)), max(size, round(h * r))), resample)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    out = np.asarray(im.crop((left, top, left + size, top + size)), np.float32) / full
    if out.ndim == 2:  # a wide grayscale image: the same value in R, G and B
        out = np.repeat(out[..., None], 3, axis=-1)
    return np.clip(out, 0.0, 1.0)  # bicubic overshoot stays in range, as in 8 bits


def preprocess(path, size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
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
