"""Photo-quality check: blurry, too dark, over-exposed or too small photos are named as such.

A blurred or badly exposed photo still gets a confident class; this check says why an answer may
be weak before anyone relies on it. It runs on the already-decoded (reduced) image, at the scale
the model sees (short side 224 px), so its cost does not grow with the camera's resolution.

Thresholds were chosen on the 605 shared MSID photos (see ``bench/bench_quality.py``): at most
5% of the photos as they are get flagged, and at least 90% of the same photos degraded on purpose
(Gaussian blur sigma 3 px at 224 px, darkened to a fifth, brightened 2.5x) do.
OpenCV is imported on first use, not at start-up (it costs 0.2-0.5 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

BLURRY = "blurry"
TOO_DARK = "too dark"
OVER_EXPOSED = "over-exposed"
TOO_SMALL = "too small"
SEPARATOR = ";"
ANALYSIS_SIDE = 224


@dataclass(frozen=True)
class QualityThresholds:
    """Where each issue starts (measured on MSID; see the module docstring)."""

    min_sharpness: float = 5.0  # variance of the Laplacian at short side 224 px
    min_mean_luminance: float = 50.0  # 0-255
    max_centre_clipped: float = 0.6  # fraction of the central half with a channel >= 250
    min_short_side: int = 224  # pixels of the original photo


@dataclass(frozen=True)
class QualityReport:
    """The measurements and the issues they raise (empty: nothing wrong found)."""

    sharpness: float
    mean_luminance: float
    centre_clipped: float
    issues: tuple[str, ...]

    @property
    def text(self) -> str:
        """``"blurry;too dark"`` style, empty when fine (the CSV and store form)."""
        return SEPARATOR.join(self.issues)


def _cv2() -> Any:
    import cv2  # lazy: OpenCV's import is a noticeable part of start-up

    return cv2


def measure(image: Image.Image) -> tuple[float, float, float]:
    """(sharpness, mean luminance, clipped fraction of the central half) of an RGB image."""
    cv2 = _cv2()
    rgb = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
    h, w = rgb.shape[:2]
    scale = ANALYSIS_SIDE / max(1, min(h, w))
    if scale < 1:  # compare sharpness at the scale the model sees
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    centre = rgb[h // 4 : h - h // 4, w // 4 : w - w // 4]
    clipped = float((centre.max(axis=2) >= 250).mean()) if centre.size else 0.0
    return sharpness, float(gray.mean()), clipped


def check_quality(
    image: Image.Image,
    original_size: tuple[int, int] | None = None,
    thresholds: QualityThresholds | None = None,
) -> QualityReport:
    """Issues with ``image`` (decoded, possibly reduced); ``original_size`` is the photo's own
    (width, height) for the too-small test, defaulting to the image's size.

    An exposure problem is reported instead of "blurry": a dark or washed-out photo has little
    contrast, so its Laplacian is low whether or not it is in focus.
    """
    t = thresholds or QualityThresholds()
    sharpness, luminance, clipped = measure(image)
    issues: list[str] = []
    if luminance < t.min_mean_luminance:
        issues.append(TOO_DARK)
    if clipped >= t.max_centre_clipped:
        issues.append(OVER_EXPOSED)
    if not issues and sharpness < t.min_sharpness:
        issues.append(BLURRY)
    width, height = original_size or image.size
    if min(width, height) < t.min_short_side:
        issues.append(TOO_SMALL)
    return QualityReport(sharpness, luminance, clipped, tuple(issues))
