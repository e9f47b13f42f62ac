"""Fonts, paragraph styles and markup helpers the report's layout draws with (reportlab)."""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

#: The name the report registers its fallback font under (glyphs DejaVu Sans lacks).
FALLBACK_FONT = "PoxCJK"


def _windows_fonts(*names: str) -> list[str]:
    return [os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts", n) for n in names]


#: TrueType fonts covering Chinese, Japanese and Korean, tried in order when a name or note
#: needs a glyph the main font lacks. OpenType fonts with CFF outlines (most Noto Sans CJK
#: builds) cannot be embedded by reportlab and are passed over. ``POXSCREEN_REPORT_FONT``
#: names one to try first.
CJK_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
    "/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    *_windows_fonts("msyh.ttc", "simsun.ttc", "msgothic.ttc", "malgun.ttf"),
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
)


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


@functools.lru_cache(maxsize=1)
def _main_covers() -> Callable[[str], bool]:
    """Whether the main font has a glyph for a character."""
    from reportlab.pdfbase import pdfmetrics

    regular, _ = _fonts()
    if regular == "Helvetica":  # the built-in font draws WinAnsi (cp1252) only

        def latin(ch: str) -> bool:
            try:
                ch.encode("cp1252")
            except UnicodeEncodeError:
                return False
            return True

        return latin
    cmap = frozenset(pdfmetrics.getFont(regular).face.charToGlyph)
    return lambda ch: ord(ch) in cmap


@functools.lru_cache(maxsize=1)
def fallback_font() -> tuple[str, frozenset[int]] | None:
    """(file, characters it covers) of the fallback font, registered as FALLBACK_FONT; None
    when this computer has none, and names are then printed with ``\\u4e2d`` escapes."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    first = os.environ.get("POXSCREEN_REPORT_FONT")
    for path in ([first] if first else []) + list(CJK_FONT_CANDIDATES):
        if not os.path.isfile(path):
            continue
        try:
            font = TTFont(FALLBACK_FONT, path, subfontIndex=0)
        except Exception:  # CFF outlines, a damaged file: try the next one
            continue
        pdfmetrics.registerFont(font)
        for bold, italic in ((0, 0), (1, 0), (0, 1), (1, 1)):  # it has no bold: same face
            addMapping(FALLBACK_FONT, bold, italic, FALLBACK_FONT)
        return path, frozenset(font.face.charToGlyph)
    return None


def _escape_char(ch: str) -> str:
    """A readable stand-in for a character no font can draw (never an empty box)."""
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _runs(text: str) -> list[tuple[bool, str]]:
    """``text`` as (drawn with the fallback font?, piece) runs; characters neither font draws
    become escapes in the main font."""
    main, runs = _main_covers(), []  # type: ignore[var-annotated]
    fallback: frozenset[int] | None = None
    for ch in text:
        if ch.isascii() or main(ch):
            use, piece = False, ch
        else:
            if fallback is None:
                found = fallback_font()
                fallback = found[1] if found else frozenset()
            use = ord(ch) in fallback
            piece = ch if use else _escape_char(ch)
        if runs and runs[-1][0] == use:
            runs[-1] = (use, runs[-1][1] + piece)
        else:
            runs.append((use, piece))
    return runs


def draw_text(canvas: Any, x: float, y: float, text: str, font: str, size: float) -> float:
    """Draw one line on a reportlab canvas (page footers), switching to the fallback font for
    the glyphs ``font`` lacks; returns the width drawn."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    start = x
    for fb, piece in _runs(text):
        face = FALLBACK_FONT if fb else font
        canvas.setFont(face, size)
        canvas.drawString(x, y, piece)
        x += stringWidth(piece, face, size)
    canvas.setFont(font, size)
    return x - start


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
    """Text as safe Paragraph markup (file names and notes may hold <, & and quotes); glyphs the
    main font lacks are drawn with the fallback font, or escaped when there is none."""
    value = str(text)
    if value.isascii():
        return escape(value, {'"': "&quot;"})
    return "".join(
        f'<font face="{FALLBACK_FONT}">{escape(p)}</font>' if fb else escape(p, {'"': "&quot;"})
        for fb, p in _runs(value)
    )
