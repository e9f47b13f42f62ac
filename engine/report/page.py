"""The page every PoxScreen PDF shares: A4 or Letter, the margins, and the footer that names
the report and says it is a screening aid (case report and visit report alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.i18n import _
from engine.report.options import ReportOptions
from engine.report.styles import draw_text


def document(
    target: Path, opts: ReportOptions, st: dict[str, Any], left: str, **info: str
) -> tuple[Any, Any, list[int]]:
    """(doc, footer, pages): a SimpleDocTemplate with ``info`` (title, subject) as its metadata,
    a footer drawing ``left`` and the page number, and ``pages[0]``, the page count once built."""
    from reportlab.lib.pagesizes import A4, LETTER
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import SimpleDocTemplate

    pages = [0]

    def footer(canvas: Any, doc: Any) -> None:
        pages[0] = doc.page
        canvas.saveState()
        canvas.setFont(st["regular"], 7)
        draw_text(canvas, doc.leftMargin, 10 * mm, left, st["regular"], 7)
        right = _("Screening aid, not a diagnosis · page {page}").format(page=doc.page)
        width = stringWidth(right, st["regular"], 7)
        draw_text(canvas, doc.pagesize[0] - doc.rightMargin - width, 10 * mm, right,
                  st["regular"], 7)  # fmt: skip
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(target),
        pagesize=LETTER if opts.page_size.upper() == "LETTER" else A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=18 * mm,
        author="PoxScreen",
        creator="PoxScreen",
        **info,
    )
    return doc, footer, pages
