"""The printable case report (PDF): a cover page, then one block per image.

Qt-free so that ``poxscreen report --run N --out report.pdf`` and the desktop's "Print report..."
make the same file. Cover: date, clinic, selection, model version and its validation figures,
device, counts per predicted class, referrals, disagreements, unreadable files and the "screening
aid, not a diagnosis" notice. Each image: thumbnail, Grad-CAM overlay, predicted class with every
probability, the clinician's label, who, when and note, the referral flag, file name and SHA-256
prefix. Pictures are small JPEG thumbnails (engine.report_images), never the originals.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from engine.atomic import atomic_path
from engine.cases import Case, CaseSet, CaseSource, ReferralCheck, collect_cases
from engine.report_images import OverlayMaker, Pictures, ReportCancelled, make_pictures
from engine.store import REFER, Store

__all__ = ["ReportCancelled", "ReportOptions", "ReportSummary", "write_report", "build_pdf"]

NOTICE = (
    "PoxScreen is a screening aid, not a diagnosis. Every result on these pages needs a "
    "clinician's judgement; a referral flag means: have this case seen by a specialist."
)
CLASS_COLOURS = {  # Okabe-Ito, as in the desktop (always paired with text)
    "Chickenpox": "#E69F00",
    "Measles": "#56B4E9",
    "Monkeypox": "#D55E00",
    "Normal": "#009E73",
    REFER: "#CC79A7",
}


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
    out: Path
    images: int = 0
    pages: int = 0
    size_bytes: int = 0
    elapsed_s: float = 0.0
    gradcam: bool = False
    problems: list[str] = field(default_factory=list)


def write_report(
    store: Store,
    out: str | os.PathLike[str],
    source: CaseSource,
    *,
    options: ReportOptions | None = None,
    referral: ReferralCheck | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> ReportSummary:
    """Write the report for a run id, a ReviewFilter or a list of ReviewItems to ``out``.

    The file appears atomically when complete; a cancel (ReportCancelled) leaves nothing."""
    started = time.perf_counter()
    opts = options or ReportOptions()
    case_set = collect_cases(store, source, referral=referral)
    summary = ReportSummary(out=Path(out))
    maker, device_text = _overlay_maker(case_set, opts, summary)
    try:
        shown = [c for c in case_set.cases if c.error is None]
        pictures = make_pictures(
            [c.file for c in shown],
            thumb_px=opts.thumb_px,
            overlay_px=opts.overlay_px,
            quality=opts.quality,
            maker=maker,
            on_progress=on_progress,
            cancel=cancel,
        )
    finally:
        if maker is not None:
            maker.close()
    summary.problems += [
        f"{c.name}: {p.problem}" for c, p in zip(shown, pictures, strict=True) if p.problem
    ]
    with atomic_path(out, suffix=".pdf.tmp") as tmp:
        summary.pages = build_pdf(tmp, case_set, shown, pictures, opts, device_text)
    summary.images = len(shown)
    summary.size_bytes = Path(out).stat().st_size
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _overlay_maker(
    case_set: CaseSet, opts: ReportOptions, summary: ReportSummary
) -> tuple[OverlayMaker | None, str]:
    """Load the model that made the predictions for Grad-CAM; say so when it cannot be used."""
    if not opts.gradcam:
        return None, ""
    path = case_set.model.get("path")
    if not path or not Path(path).is_file():
        summary.problems.append(
            f"no Grad-CAM overlays: the model file of {case_set.model.get('version', '?')} "
            "is not on this computer"
        )
        return None, ""
    from engine.checkpoint import ModelFileError
    from engine.device import DeviceError

    try:
        maker = OverlayMaker(path, opts.device)
    except (ModelFileError, DeviceError) as exc:
        summary.problems.append(f"no Grad-CAM overlays: {exc}")
        return None, ""
    summary.gradcam = True
    return maker, str(maker.choice)


# --- layout -----------------------------------------------------------------------------------


def _fonts() -> tuple[str, str]:
    """DejaVu Sans (matplotlib ships it) for names and notes in any script; Helvetica otherwise."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "PoxSans" in pdfmetrics.getRegisteredFontNames():
        return "PoxSans", "PoxSans-Bold"
    try:
        import matplotlib
        from reportlab.lib.fonts import addMapping

        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        faces = {
            "PoxSans": "DejaVuSans.ttf",
            "PoxSans-Bold": "DejaVuSans-Bold.ttf",
            "PoxSans-Italic": "DejaVuSans-Oblique.ttf",
            "PoxSans-BoldItalic": "DejaVuSans-BoldOblique.ttf",
        }
        for name, file in faces.items():
            pdfmetrics.registerFont(TTFont(name, str(ttf / file)))
        for bold, italic, name in ((0, 0, ""), (1, 0, "-Bold"), (0, 1, "-Italic"),
                                   (1, 1, "-BoldItalic")):  # fmt: skip
            addMapping("PoxSans", bold, italic, f"PoxSans{name}")
        return "PoxSans", "PoxSans-Bold"
    except Exception:  # no TrueType font: the built-in Latin-1 font still prints
        return "Helvetica", "Helvetica-Bold"


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=8.5, leading=11)
    return {
        "base": base,
        "bold": ParagraphStyle("bold", parent=base, fontName=bold),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=20, leading=25),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=12, leading=16,
                             spaceBefore=10, spaceAfter=4),
        "notice": ParagraphStyle("notice", parent=base, fontName=bold, fontSize=10, leading=13),
        "regular": regular,
        "boldname": bold,
    }  # fmt: skip


def build_pdf(
    target: Path,
    case_set: CaseSet,
    shown: Sequence[Case],
    pictures: Sequence[Pictures],
    opts: ReportOptions,
    device_text: str,
) -> int:
    """Lay out and write the PDF; return the page count."""
    from reportlab.lib.pagesizes import A4, LETTER
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    from engine.report_layout import case_block, cover, errors_table

    st = _styles()
    pages = [0]
    made = datetime.now(timezone.utc).astimezone()

    def footer(canvas: Any, doc: Any) -> None:
        pages[0] = doc.page
        canvas.saveState()
        canvas.setFont(st["regular"], 7)
        left = f"PoxScreen case report · {made:%Y-%m-%d %H:%M}"
        if opts.clinic:
            left += f" · {opts.clinic}"
        canvas.drawString(doc.leftMargin, 10 * mm, left)
        canvas.drawRightString(
            doc.pagesize[0] - doc.rightMargin,
            10 * mm,
            f"Screening aid, not a diagnosis · page {doc.page}",
        )
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(target),
        pagesize=LETTER if opts.page_size.upper() == "LETTER" else A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=18 * mm,
        title="PoxScreen case report",
        author="PoxScreen",
        subject=case_set.title,
        creator="PoxScreen",
    )
    story: list[Any] = cover(case_set, shown, opts, device_text, made, st, doc.width)
    story.append(PageBreak())
    for case, pics in zip(shown, pictures, strict=True):
        story.append(case_block(case, pics, case_set.classes, opts, st, doc.width))
    failed = [c for c in case_set.cases if c.error is not None]
    if failed:
        story += errors_table(failed, st, doc.width)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return pages[0]


def image_flowable(data: bytes, width: float, height: float) -> Any:
    """A reportlab Image from JPEG bytes, scaled to fit ``width`` x ``height`` keeping aspect."""
    from reportlab.platypus import Image as RLImage

    img = RLImage(io.BytesIO(data))
    scale = min(width / img.imageWidth, height / img.imageHeight)
    img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
    return img


def esc(text: object) -> str:
    """Text as safe Paragraph markup (file names and notes may hold <, & and quotes)."""
    return escape(str(text), {'"': "&quot;"})
