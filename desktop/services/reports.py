"""Exports and the printed report: the same engine code as ``poxscreen export --format cases``
and ``poxscreen report``. Plain functions, run on the thread pool by the export dialog."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from engine.cases import describe_filter, export_cases_csv
from engine.report import ReportOptions, ReportSummary, write_report
from engine.store import ExportSummary, ReviewFilter, Store

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
