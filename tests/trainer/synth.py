"""Generated photo folders for trainer tests: the class is learnable (pattern and tint), every
photo has a distinct perceptual hash, and near-duplicate copies can be added on purpose."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from engine.checkpoint import ModelMeta, save_model
from trainer.initial_model import imagenet_model

CLASSES = ("Blue", "Green", "Red")
TINTS = {"Red": (1.0, 0.35, 0.35), "Green": (0.35, 1.0, 0.35), "Blue": (0.35, 0.35, 1.0)}


def photo(seed: int, label: str, size: int = 48) -> Image.Image:
    """A distinct picture: smooth random blobs (a distinct pHash per seed) under a class pattern
    (Blue: checkerboard, Green: stripes, Red: plain) in a class tint."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (6, 6), dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    grey = np.asarray(base, dtype=np.float32) / 255.0
    yy, xx = np.mgrid[0:size, 0:size]
    period = int(rng.integers(3, 5))
    phase = int(rng.integers(0, period))
    if label == "Blue":
        pattern = (((yy + phase) // period + (xx + phase) // period) % 2).astype(np.float32)
    elif label == "Green":
        axis = yy if rng.random() < 0.5 else xx
        pattern = (((axis + phase) // period) % 2).astype(np.float32)
    else:
        pattern = np.full((size, size), 0.5, dtype=np.float32)
    tint = np.array(TINTS[label], dtype=np.float32)
    rgb = 0.1 + 0.45 * tint * (0.5 + 0.5 * pattern)[..., None] + 0.3 * grey[..., None]
    rgb += rng.normal(0, 0.02, rgb.shape).astype(np.float32)
    return Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def make_folder(
    root: Path, per_class: int, seed: int = 0, size: int = 48, classes: tuple[str, ...] = CLASSES
) -> Path:
    """``root/<class>/img_<i>.png`` with ``per_class`` distinct photos per class."""
    for c_i, label in enumerate(classes):
        d = root / label
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo(seed * 100_000 + c_i * 1000 + i, label, size).save(d / f"img_{i:03d}.png")
    return root


def add_near_duplicates(root: Path, every: int = 3) -> dict[str, list[Path]]:
    """For every ``every``-th photo add a mirror and a resized JPEG re-encode beside it.

    Returns original path -> its copies (the groups that must never straddle two splits).
    """
    groups: dict[str, list[Path]] = {}
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for i, path in enumerate(sorted(class_dir.glob("img_*.png"))):
            if i % every:
                continue
            im = Image.open(path).convert("RGB")
            mirror = class_dir / f"{path.stem}_mirror.png"
            ImageOps.mirror(im).save(mirror)
            jpeg = class_dir / f"{path.stem}_copy.jpg"
            im.resize((im.width * 3 // 2, im.height * 3 // 2)).save(jpeg, quality=70)
            groups[str(path)] = [mirror, jpeg]
    return groups


def save_start_model(
    path: Path, classes: Sequence[str] = CLASSES, *, input_size: int | None = None
) -> ModelMeta:
    """The trainer tests' one model factory: the untrained ImageNet start for ``classes``
    (seed 0), written to ``path``; ``input_size`` shrinks it for fast runs."""
    model, meta = imagenet_model(list(classes), seed=0)
    if input_size is not None:
        meta.input_size = input_size
    return save_model(path, model, meta)
