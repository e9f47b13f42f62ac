"""Model input preparation, driven by the model file's metadata (size, mean, std).

The whole photo is resized to the square input (no crop), as the training photos were: a crop
could cut away the lesion a clinician cares about.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image
from torchvision.transforms import v2

from engine.checkpoint import ModelMeta


def make_transform(meta: ModelMeta) -> Callable[[Image.Image], torch.Tensor]:
    """PIL RGB image -> normalised float tensor (3 x S x S) for ``meta``'s model."""
    size = int(meta.input_size)
    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize((size, size), interpolation=v2.InterpolationMode.BILINEAR, antialias=True),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=list(meta.mean), std=list(meta.std)),
        ]
    )


def denormalize(x: torch.Tensor, meta: ModelMeta) -> torch.Tensor:
    """Undo ``make_transform``'s normalisation (for showing what the model saw)."""
    mean = torch.tensor(meta.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    std = torch.tensor(meta.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x * std + mean).clamp(0, 1)
