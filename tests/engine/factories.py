"""The engine tests' one model factory and one photo factory.

Everything is seeded, so a test that makes the same model or photo twice gets the same bytes.
Plain functions (not fixtures) so fixtures, helpers and other test packages can call them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.checkpoint import ModelMeta, save_model
from engine.model import MobileNetV2MSCAPFR


def make_model(
    seed: int = 0, *, padding: str = "symmetric", num_classes: int = 4
) -> MobileNetV2MSCAPFR:
    """A randomly initialised network in eval mode: fast and deterministic per ``seed``."""
    torch.manual_seed(seed)
    return MobileNetV2MSCAPFR(num_classes, padding=padding).eval()


def save_test_model(
    path: Path, *, seed: int = 0, padding: str = "symmetric", **meta: Any
) -> ModelMeta:
    """:func:`make_model` written to ``path``; ``meta`` sets ModelMeta fields (name, trained...).
    Returns the stored metadata (with its content hash)."""
    model = make_model(seed, padding=padding)
    return save_model(path, model, ModelMeta(padding=padding, **meta))


def noise_image(
    width: int = 256, height: int = 256, seed: int = 0, *, cell: int = 1
) -> Image.Image:
    """Random RGB noise; ``cell`` > 1 draws cells of that many pixels, smoothed (a JPEG of it
    stays small and its pHash stays stable)."""
    rng = np.random.default_rng(seed)
    w, h = max(1, width // cell), max(1, height // cell)
    image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    return image if cell == 1 else image.resize((width, height), Image.Resampling.BILINEAR)


def make_photo(
    path: Path, seed: int, size: tuple[int, int] = (96, 80), *, cell: int = 1, **save: Any
) -> Path:
    """:func:`noise_image` of ``size`` saved at ``path`` (format from the suffix; ``save`` goes
    to Pillow: quality, exif, comment...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise_image(size[0], size[1], seed, cell=cell).save(path, **save)
    return path
