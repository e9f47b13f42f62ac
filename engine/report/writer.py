"""Writing the case report: collect the cases, make the pictures, lay out and write the PDF.

The file appears atomically when complete; reportlab is imported only when a report is made.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path
from engine.cases import Case, CaseSet, CaseSource, ReferralCheck, collect_cases
from engine.i18n import _, format_datetime
from engine.report.options import ReportOptions, ReportSummary
from engine.report.pictures import OverlayMaker, Pictures, make_pictures
from engine.report.styles import styles
from engine.store import Store

__all__ = ["build_pdf", "write_report"]


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
    details = {"images": summary.images, "pages": summary.pages, "clinic": opts.clinic or ""}
    store.audit.record("report", details=details)
    return summary


def _overlay_maker(
    case_set: CaseSet, opts: ReportOptions, summary: ReportSummary
) -> tuple[OverlayMaker | None, str]:
    """Load the model that made the predictions for Grad-CAM; say so when it cannot be used."""
    if not opts.gradcam:
        return None, ""
    path = case_set.model.get("path")
    if not path or not Path(path).is_file():
        version = case_set.model.get("version", "?")
        summary.problems.append(
            _("no Grad-CAM overlays: the model file of {version} is not on this computer").format(
                version=version
            )
        )
        return None, ""
    from engine.checkpoint import ModelFileError
    from engine.device import DeviceError

    try:
        maker = OverlayMaker(path, opts.device)
    except (ModelFileError, DeviceError) as exc:
        summary.problems.append(_("no Grad-CAM overlays: {why}").format(why=exc))
        return None, ""
    summary.gradcam = True
    return maker, str(maker.choice)


def build_pdf(
    target: Path,
    case_set: CaseSet,
    shown: Sequence[Case],
    pictures: Sequence[Pictures],
    opts: ReportOptions,
    device_text: str,
) -> int:
    """Lay out and write the PDF; return the page count."""
    from reportlab.platypus import PageBreak

    from engine.report.layout import case_block, cover, errors_table
    from engine.report.page import document

    st = styles()
    made = datetime.now(timezone.utc).astimezone()
    title = _("PoxScreen case report")
    left = f"{title} · {format_datetime(made)}"
    if opts.clinic:
        left += f" · {opts.clinic}"
    doc, footer, pages = document(target, opts, st, left, title=title, subject=case_set.title)
    story: list[Any] = cover(case_set, shown, opts, device_text, made, st, doc.width)
    story.append(PageBreak())
    for case, pics in zip(shown, pictures, strict=True):
        story.append(case_block(case, pics, case_set.classes, opts, st, doc.width))
    failed = [c for c in case_set.cases if c.error is not None]
    if failed:
        story += errors_table(failed, st, doc.width)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return pages[0]
