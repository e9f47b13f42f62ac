"""Model input preparation, driven by the model file's metadata (size, mean, std).

The whole photo is resized to the square input (no crop), as the training photos were: a crop
could cut away the lesion a clinician cares about. Plain Pillow + NumPy, so the screening path
runs without torch; the torch tensor view (:func:`make_transform`) is the same array.

The resize is Pillow's bilinear filter, which widens its support with the reduction factor
(antialiasing), as ``torchvision.transforms.Resize`` does on PIL images (the authors'
evaluation) and approximately (a few pixels differ by 1/255) as it does on tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch


def _stats(meta: Any) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(meta.mean, dtype=np.float32).reshape(1, 1, 3)
    std = np.asarray(meta.std, dtype=np.float32).reshape(1, 1, 3)
    return mean, std


def to_input(image: Image.Image, meta: Any) -> np.ndarray:
    """PIL RGB image -> normalised float32 array (3 x S x S, C-contiguous) for ``meta``'s model."""
    size = int(meta.input_size)
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    mean, std = _stats(meta)
    x = (np.asarray(image, dtype=np.float32) / np.float32(255.0) - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def make_transform(meta: Any) -> Callable[[Image.Image], torch.Tensor]:
    """PIL RGB image -> normalised float tensor (3 x S x S) for ``meta``'s model."""
    import torch

    return lambda image: torch.from_numpy(to_input(image, meta))


def denormalize(x: torch.Tensor, meta: Any) -> torch.Tensor:
    """Undo ``make_transform``'s normalisation (for showing what the model saw)."""
    import torch

    mean = torch.tensor(meta.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    std = torch.tensor(meta.std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x * std + mean).clamp(0, 1)
