"""Pictures for the printed report: small JPEG thumbnails and Grad-CAM overlays, made in batches.

Every image is read through engine.images (reduced JPEG decoding, EXIF orientation applied, the
same limits and error messages as screening) and re-encoded as a small baseline JPEG with no
metadata, so a report of hundreds of photos stays a few megabytes and carries no EXIF (GPS,
camera serial numbers) out of the clinic. torch is imported only when Grad-CAM is asked for.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from engine.i18n import _
from engine.images import ImageLoadError, load_image

BATCH = 16


@dataclass(frozen=True)
class Pictures:
    """JPEG bytes for one case; ``None`` where the picture could not be made (``problem`` says
    why, naming the file)."""

    thumb: bytes | None
    overlay: bytes | None
    problem: str | None = None


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    """Baseline JPEG, no EXIF/ICC/XMP: only pixels leave the clinic."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def fitted(image: Image.Image, max_side: int) -> Image.Image:
    out = image.copy()
    out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return out


class OverlayMaker:
    """Grad-CAM for batches of photos with one loaded model (torch imported on construction)."""

    def __init__(self, model_file: str | Path, device: str = "auto") -> None:
        from engine.checkpoint import load_model
        from engine.device import select_device
        from engine.explain import GradCAM
        from engine.preprocess import make_transform

        self.choice = select_device(device)
        model, meta = load_model(model_file)
        self.model = model.to(self.choice.device).eval()
        self.meta = meta
        self.transform = make_transform(meta)
        self._cam = GradCAM(self.model, temperature=float(meta.temperature))

    @property
    def input_size(self) -> int:
        return int(self.meta.input_size)

    def heatmaps(self, images: Sequence[Image.Image]) -> list[Any]:
        """One [0, 1] heatmap per image, for the model's own top class."""
        import torch

        batch = torch.stack([self.transform(im) for im in images])
        return list(self._cam(batch).heatmaps)

    def close(self) -> None:
        self._cam.close()


def make_pictures(
    files: Sequence[Path | None],
    *,
    thumb_px: int,
    overlay_px: int,
    quality: int,
    maker: OverlayMaker | None,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[Pictures]:
    """Thumbnails (and overlays when ``maker`` is given) for ``files``, in order, batched."""
    out: list[Pictures] = []
    total = len(files)
    for start in range(0, total, BATCH):
        if cancel is not None and cancel.is_set():
            raise ReportCancelled("report cancelled")
        out.extend(_batch(files[start : start + BATCH], thumb_px, overlay_px, quality, maker))
        if on_progress is not None:
            on_progress(min(start + BATCH, total), total)
    return out


class ReportCancelled(Exception):
    """Raised when the caller's cancel event is set; no file is written."""


def _batch(
    files: Sequence[Path | None],
    thumb_px: int,
    overlay_px: int,
    quality: int,
    maker: OverlayMaker | None,
) -> list[Pictures]:
    hint = max(thumb_px, maker.input_size if maker else 0)
    loaded: list[Image.Image | None] = []
    problems: list[str | None] = []
    for f in files:
        if f is None:
            loaded.append(None)
            problems.append(_("no copy of the image is available"))
            continue
        try:
            loaded.append(load_image(f, target_size=hint))
            problems.append(None)
        except ImageLoadError as exc:
            loaded.append(None)
            problems.append(str(exc))
    present = [im for im in loaded if im is not None]
    heats = iter(maker.heatmaps(present) if maker is not None and present else [])
    result = []
    for im, problem in zip(loaded, problems, strict=True):
        if im is None:
            result.append(Pictures(None, None, problem))
            continue
        thumb = jpeg_bytes(fitted(im, thumb_px), quality)
        over = None
        if maker is not None:
            from engine.explain import overlay

            small = fitted(im, overlay_px)
            over = jpeg_bytes(overlay(small, next(heats), alpha=0.45, colormap="inferno"), quality)
        result.append(Pictures(thumb, over))
    return result
