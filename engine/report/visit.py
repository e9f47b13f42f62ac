"""The report of one visit: a cover with the patient and visit identifiers, the clinician, the
visit decision, the lab result and a signature line; then one block per photo, the most
suspicious first (as the visit view shows them). Same pictures and blocks as the case report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path
from engine.cases import Case, CaseSet, collect_cases
from engine.i18n import _, format_datetime, ngettext
from engine.report.options import ReportOptions, ReportSummary
from engine.report.pictures import Pictures, make_pictures
from engine.report.styles import esc, styles
from engine.store import Store
from engine.store.visits import VisitRow
from engine.vocabulary import long_name

__all__ = ["write_visit_report"]


def write_visit_report(
    store: Store,
    out: str | os.PathLike[str],
    patient: str,
    visit: str,
    *,
    clinician: str,
    clinic: str | None = None,
    options: ReportOptions | None = None,
) -> ReportSummary:
    """Write the PDF of one visit to ``out`` (atomically); NotFoundError when no photo
    belongs to the visit. Thumbnails only: the visit view's photos are what the cover signs."""
    started = time.perf_counter()
    opts = options or ReportOptions(clinic=clinic, gradcam=False)
    row = store.visits.visit(patient, visit)
    items = [p.item for p in store.visits.photos_of(patient, visit)]
    case_set = collect_cases(store, items)
    summary = ReportSummary(out=Path(out))
    shown = [c for c in case_set.cases if c.error is None]
    pictures = make_pictures(
        [c.file for c in shown],
        thumb_px=opts.thumb_px,
        overlay_px=opts.overlay_px,
        quality=opts.quality,
        maker=None,
    )
    summary.problems += [
        f"{c.name}: {p.problem}" for c, p in zip(shown, pictures, strict=True) if p.problem
    ]
    with atomic_path(out, suffix=".pdf.tmp") as tmp:
        summary.pages = _build(tmp, row, case_set, shown, pictures, opts, clinician)
    summary.images = len(shown)
    summary.size_bytes = Path(out).stat().st_size
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _lab_text(row: VisitRow) -> str:
    if row.lab_result is None:
        return _("not known")
    parts = [f"PCR {row.lab_result}", row.lab_date or "", row.lab_test or ""]
    return ", ".join(p for p in parts if p)


def _cover(row: VisitRow, clinician: str, opts: ReportOptions, made: datetime, st: dict,
           width: float) -> list[Any]:  # fmt: skip
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    from engine.report.layout import kv_table, notice

    decided = long_name(row.decision) if row.decision else _("not recorded")
    if row.decision and row.decided_by:
        decided += " (" + _("by {who}").format(who=row.decided_by) + ")"
    referred = (
        ngettext("{n} of {total} photo", "{n} of {total} photos", row.photos).format(
            n=row.referred_photos, total=row.photos
        )
        if row.referred
        else _("no photo")
    )
    rows = [
        (_("Patient"), esc(row.patient)),
        (_("Visit"), esc(row.visit)),
        (_("Date"), esc(format_datetime(made, zone=True))),
        (_("Clinic"), esc(opts.clinic or _("(not set)"))),
        (_("Clinician"), esc(clinician or _("(not known)"))),
        (_("Photos"), str(row.photos)),
        (_("Referred"), esc(referred)),
        (_("Visit decision"), esc(decided)),
        (_("Lab result"), esc(_lab_text(row))),
    ]
    line = "______________________________"
    sign, dated = esc(_("Signature:")), esc(_("Date:"))
    signature = f"{sign} {line} &nbsp;&nbsp; {dated} {line[:16]}"
    heading = _("PoxScreen visit report: {patient} / {visit}").format(
        patient=row.patient, visit=row.visit
    )
    return [
        Paragraph(esc(heading), st["title"]),
        Spacer(1, 4 * mm),
        notice(st, width),
        Spacer(1, 5 * mm),
        kv_table(rows, st, width),
        Spacer(1, 18 * mm),
        Paragraph(signature, st["base"]),
        Paragraph(esc(clinician or ""), st["small"]),
    ]


def _build(target: Path, row: VisitRow, case_set: CaseSet, shown: Sequence[Case],
           pictures: Sequence[Pictures], opts: ReportOptions, clinician: str) -> int:  # fmt: skip
    """Lay out and write the PDF; return the page count."""
    from reportlab.platypus import PageBreak

    from engine.report.layout import case_block
    from engine.report.page import document

    st = styles()
    made = datetime.now(timezone.utc).astimezone()
    title = _("PoxScreen visit report")
    left = f"{title} · {row.patient} / {row.visit} · {format_datetime(made)}"
    doc, footer, pages = document(
        target, opts, st, left, title=f"{title} {row.patient}/{row.visit}"
    )
    story: list[Any] = _cover(row, clinician, opts, made, st, doc.width)
    story.append(PageBreak())
    for case, pics in zip(shown, pictures, strict=True):
        story.append(case_block(case, pics, case_set.classes, opts, st, doc.width))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return pages[0]
