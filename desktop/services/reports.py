"""Exports and the printed report: the same engine code as ``poxscreen export --format cases``
and ``poxscreen report``. Plain functions, run on the thread pool by the export dialog."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

from engine.cases import export_cases_csv
from engine.i18n import N_, _
from engine.report import ReportOptions, ReportSummary, write_report
from engine.store import ExportSummary, ReviewFilter, Store
from engine.vocabulary import long_name

__all__ = [
    "ExportSummary",
    "ReportSummary",
    "ReviewFilter",
    "Source",
    "describe_filter",
    "export_cases_csv",
    "export_folders",
    "print_report",
]

#: What to export: a screening run (its id) or a filter of the review queue.
Source = int | ReviewFilter


def export_folders(store: Store, out: Path, run_id: int | None) -> ExportSummary:
    """Labelled images as class folders (``OUT/<label>/...``), of one run or all."""
    return store.export_imagefolder(out, run_id=run_id)


def print_report(
    store: Store,
    out: Path,
    source: Source,
    *,
    clinic: str | None,
    gradcam: bool,
    on_progress: Callable[[int, int], None],
    cancel: threading.Event,
) -> ReportSummary:
    """The printable case report (PDF) of a run or filter."""
    options = ReportOptions(clinic=clinic, gradcam=gradcam)
    return write_report(store, out, source, options=options, on_progress=on_progress, cancel=cancel)


#: The filter's fields in words (engine.store.ReviewFilter; a field not listed shows its name).
FILTER_WORDS = {
    "model_version": N_("model"),
    "all_models": N_("all models"),
    "by_label": N_("by the clinician's label"),
    "run_id": N_("run"),
    "predicted_class": N_("predicted class"),
    "reviewed": N_("reviewed"),
    "label": N_("label"),
    "disagreement": N_("disagreement"),
    "max_confidence": N_("confidence below"),
    "out_of_scope": N_("out of scope"),
    "check_photo": N_("check photo"),
    "referral": N_("to refer"),
    "patient": N_("patient"),
    "visit": N_("visit"),
    "disputed": N_("disputed"),
    "search": N_("search"),
}


def describe_filter(flt: ReviewFilter) -> str:
    """A short line for a filter in the user's language: the fields that differ from the
    defaults (engine.cases.describe_filter says it in English for the command line)."""
    default = ReviewFilter()
    parts = []
    for f in dataclasses.fields(flt):
        value = getattr(flt, f.name)
        if value == getattr(default, f.name) or f.name == "sort":
            continue
        name = _(FILTER_WORDS[f.name]) if f.name in FILTER_WORDS else f.name.replace("_", " ")
        if isinstance(value, bool):
            shown = _("yes") if value else _("no")
        elif f.name in ("predicted_class", "label"):
            shown = long_name(str(value))
        else:
            shown = str(value)
        parts.append(f"{name} = {shown}")
    return ", ".join(parts) or _("all screened images")
