"""Training data: labelled samples from folders (and the store), decoded once, augmented online.

Every photo is decoded once through ``engine.images.load_image`` (EXIF applied, the same decoder
the app screens with) and kept in memory at a little more than the model's input size, squashed
to a square exactly as ``engine.preprocess`` does at inference. Augmentation then works on that
small copy each epoch, so an epoch costs network time, not JPEG decoding. Validation and test
images go through ``engine.preprocess.make_transform(meta)`` unchanged: they are scored exactly
as the app would score them.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset, WeightedRandomSampler
from torchvision.transforms import v2

from engine.checkpoint import ModelMeta
from engine.images import ImageLoadError, iter_image_files, load_image, sha256_file
from engine.preprocess import make_transform

log = logging.getLogger(__name__)

#: The training copy is kept this much larger than the input so random crops keep detail.
CACHE_MARGIN = 1.15


class DataError(Exception):
    """Training data that cannot be used (no classes, missing folder...), with the reason."""


@dataclass(frozen=True)
class Sample:
    """One labelled photo: where to read it, its class name and its identity (SHA-256)."""

    path: Path
    label: str
    sha256: str
    source: str = "folder"


@dataclass(frozen=True)
class Skipped:
    """A photo left out of training, and why (unreadable, conflicting labels...)."""

    path: str
    reason: str


def too_few_classes(classes: Sequence[str], skipped: Sequence[Skipped]) -> DataError:
    """Why a run cannot learn: fewer than two classes, and what was left out and why (a store
    whose labelled photos were all forgotten has labels, but nothing to train on)."""
    message = f"need labelled images of at least 2 classes, found {list(classes) or 'none'}"
    if skipped:
        reasons = Counter(s.reason for s in skipped)
        shown = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common(3))
        more = f"; {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
        message += f"; {len(skipped)} labelled photos were skipped ({shown}{more})"
    return DataError(message)


def scan_image_folder(root: str | os.PathLike[str]) -> tuple[list[Sample], list[Skipped]]:
    """Samples from an ImageFolder layout: ``root/<class name>/**/<image>``.

    Class names are the sub-folder names; hidden folders are skipped, images directly under
    ``root`` are ignored (they have no class). Unreadable files are reported, not fatal.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: data folder {'is not a folder' if root.exists() else 'does not exist'}"
        )
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    class_dirs = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    if not class_dirs:
        raise DataError(f"{root}: no class sub-folders (expected {root}/<class name>/<images>)")
    for class_dir in class_dirs:
        for path in iter_image_files(class_dir, recursive=True):
            try:
                sha = sha256_file(path)
            except ImageLoadError as exc:
                skipped.append(Skipped(str(path), exc.reason))
                continue
            samples.append(Sample(path=path, label=class_dir.name, sha256=sha))
    return samples, skipped


def merge_samples(*groups: Iterable[Sample]) -> tuple[list[Sample], list[Skipped]]:
    """Combine sources, one sample per SHA-256: identical bytes with the same label are kept once;
    identical bytes with different labels are left out (we cannot know which label is right)."""
    by_sha: dict[str, list[Sample]] = {}
    for group in groups:
        for s in group:
            by_sha.setdefault(s.sha256, []).append(s)
    kept: list[Sample] = []
    skipped: list[Skipped] = []
    for copies in by_sha.values():
        labels = sorted({c.label for c in copies})
        if len(labels) > 1:
            skipped.extend(
                Skipped(str(c.path), f"same photo labelled {' and '.join(labels)}") for c in copies
            )
        else:
            kept.append(copies[0])
    kept.sort(key=lambda s: (s.label, str(s.path).casefold(), s.sha256))
    return kept, skipped


@dataclass
class Decoded:
    """A decoded training copy (uint8 CHW, square) plus the photo's perceptual hashes."""

    sample: Sample
    image: torch.Tensor
    hashes: tuple[int, int]


def decode_samples(
    samples: Sequence[Sample],
    cache_size: int,
    hasher: Callable[[Image.Image], tuple[int, int]],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Decoded], list[Skipped]]:
    """Decode every sample once: the square training copy and the hashes the split needs."""
    resize = v2.Resize(
        (cache_size, cache_size), interpolation=v2.InterpolationMode.BILINEAR, antialias=True
    )
    out: list[Decoded] = []
    skipped: list[Skipped] = []
    for i, s in enumerate(samples):
        try:
            img = load_image(s.path, target_size=cache_size)
        except ImageLoadError as exc:
            skipped.append(Skipped(str(s.path), exc.reason))
        else:
            hashes = hasher(img)
            out.append(Decoded(s, resize(v2.functional.pil_to_tensor(img)), hashes))
        if progress is not None:
            progress(i + 1, len(samples))
    return out, skipped


def cache_size_for(meta: ModelMeta) -> int:
    """The side decoded photos are cached at: a margin above the input size, so
    random crops and turns still have real pixels."""
    return math.ceil(int(meta.input_size) * CACHE_MARGIN)


AUGMENTATIONS = ("standard", "phone")


class WhiteBalance(torch.nn.Module):
    """Random per-channel gain on a uint8 image: a camera's white balance or the room's light."""

    def __init__(self, spread: float = 0.08) -> None:
        super().__init__()
        self.spread = spread

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        gains = 1.0 + (torch.rand(3, 1, 1) * 2 - 1) * self.spread
        return (img.float() * gains).clamp(0, 255).to(img.dtype)


def phone_extras() -> list[torch.nn.Module]:
    """What phone photos add to web photos: white balance, slight defocus, JPEG re-compression
    (each applied to a random part of the images, mild enough to keep the lesion readable)."""
    return [
        v2.RandomApply([WhiteBalance(0.08)], p=0.5),
        v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.2))], p=0.25),
        v2.RandomApply([v2.JPEG((50, 95))], p=0.3),
    ]


def train_transform(meta: ModelMeta, augment: bool = True, profile: str = "standard") -> v2.Compose:
    """Online augmentation suited to skin photos, ending in ``meta``'s normalisation.

    Geometry: small rotation (+-10 degrees, on a reflect-padded copy so no black corners appear:
    they are edges no real photo has), random resized crop keeping 70-100% of the area (a lesion
    near the edge stays in most crops), horizontal and vertical flips (lesions have no up or
    down). Colour: mild brightness/contrast/saturation and a very small hue shift (redness is a
    cue). ``profile="phone"`` adds white-balance shifts, slight blur and JPEG re-compression,
    and rotations up to 20 degrees.
    """
    if profile not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {AUGMENTATIONS}, got {profile!r}")
    size = int(meta.input_size)
    cache = cache_size_for(meta)
    pad = math.ceil(0.1 * cache)
    norm = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(meta.mean), list(meta.std))]
    if not augment:
        return v2.Compose([v2.Resize((size, size), antialias=True), *norm])
    return v2.Compose(
        [
            v2.Pad(pad, padding_mode="reflect"),
            v2.RandomRotation(
                20 if profile == "phone" else 10, interpolation=v2.InterpolationMode.BILINEAR
            ),
            v2.CenterCrop(cache),
            v2.RandomResizedCrop(size, scale=(0.7, 1.0), ratio=(0.8, 1.25), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.15, hue=0.02),
            *(phone_extras() if profile == "phone" else []),
            *norm,
        ]
    )


class TrainDataset(Dataset[tuple[torch.Tensor, int]]):
    """Decoded training copies, augmented on every access."""

    def __init__(
        self,
        items: Sequence[Decoded],
        class_to_idx: dict[str, int],
        transform: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.items = list(items)
        self.targets = [class_to_idx[d.sample.label] for d in self.items]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.items[i].image), self.targets[i]


class EvalDataset(Dataset[tuple[torch.Tensor, int]]):
    """Photos preprocessed exactly as the app does at inference (``make_transform(meta)``).

    ``cache=True`` keeps the tensors after the first pass (validation is scored every epoch).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        class_to_idx: dict[str, int],
        meta: ModelMeta,
        cache: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.targets = [class_to_idx[s.label] for s in self.samples]
        self.transform = make_transform(meta)
        self.target_size = int(meta.input_size)
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self._cache is not None and i in self._cache:
            return self._cache[i], self.targets[i]
        x = self.transform(load_image(self.samples[i].path, target_size=self.target_size))
        if self._cache is not None:
            self._cache[i] = x
        return x, self.targets[i]


def class_counts(targets: Sequence[int], num_classes: int) -> list[int]:
    """Photos per class index, 0 for a class with none (samplers and weights need every class)."""
    c = Counter(targets)
    return [c.get(k, 0) for k in range(num_classes)]


def class_weights(targets: Sequence[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over the classes present (absent classes get 0)."""
    counts = torch.tensor(class_counts(targets, num_classes), dtype=torch.float64)
    w = torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros_like(counts))
    present = int((counts > 0).sum())
    return (w * present / w.sum()).float()


def balanced_sampler(
    targets: Sequence[int], num_classes: int, generator: torch.Generator
) -> WeightedRandomSampler:
    """Draw classes equally often (with replacement), one epoch = as many draws as photos."""
    w = class_weights(targets, num_classes).double()
    per_sample = w[torch.tensor(list(targets), dtype=torch.long)]
    return WeightedRandomSampler(
        per_sample, num_samples=len(targets), replacement=True, generator=generator
    )
