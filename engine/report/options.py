"""What a caller asks of the case report (:class:`ReportOptions`) and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.i18n import N_

#: In English; the report prints ``engine.i18n._(NOTICE)``, in the report's language.
NOTICE = N_(
    "PoxScreen is a screening aid, not a diagnosis. Every result on these pages needs a "
    "clinician's judgement; a referral flag means: have this case seen by a specialist."
)


@dataclass(frozen=True)
class ReportOptions:
    """``clinic``: printed on every page; ``gradcam``: add overlays (needs the model file);
    ``thumb_px``/``overlay_px``: picture sizes in pixels; ``quality``: JPEG quality."""

    clinic: str | None = None
    gradcam: bool = True
    device: str = "auto"
    thumb_px: int = 200
    overlay_px: int = 140
    quality: int = 70
    page_size: str = "A4"


@dataclass
class ReportSummary:
    """What was written: where, how many images and pages, and what could not be shown."""

    out: Path
    images: int = 0
    pages: int = 0
    size_bytes: int = 0
    elapsed_s: float = 0.0
    gradcam: bool = False
    problems: list[str] = field(default_factory=list)
