"""Fonts, paragraph styles and markup helpers the report's layout draws with (reportlab)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape


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


def styles() -> dict[str, Any]:
    """The paragraph styles by name, plus the regular and bold font names."""
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
