"""A screening job on a worker thread: calls engine.screening.ScreeningJob, never touches widgets.

Everything the window needs arrives through queued signals: progress (a ProgressView), each batch
of results (engine Predictions, unreadable files included), and the summary or the exception.
Cancel sets an Event the job checks between batches, so a cancel keeps every finished batch.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from desktop.services import engine_calls as ea

log = logging.getLogger(__name__)


class ScreeningSignals(QObject):
    progress = Signal(object)  # engine_adapter.ProgressView
    results = Signal(list)  # list[engine.predictor.Prediction]
    finished = Signal(object)  # engine.screening.ScreeningSummary
    failed = Signal(object)  # the exception


class ScreeningWorker(QRunnable):
    """Screen ``folder`` (recursively) with the loaded model into ``store``."""

    def __init__(self, handle: ea.ActiveModelHandle, store: Any, folder: str | Path) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.handle = handle
        self.store = store
        self.folder = Path(folder)
        self.cancel_event = threading.Event()
        self.signals = ScreeningSignals()
        self.summary: Any = None

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        try:
            self.summary = self._run()
        except (
            Exception
        ) as exc:  # reported by the window (log + dialog); the store stays consistent
            log.exception("screening %s failed", self.folder)
            self.signals.failed.emit(exc)
        else:
            self.signals.finished.emit(self.summary)

    def _run(self) -> Any:
        from engine.screening import ScreeningJob

        walking = ea.ProgressView(0, 0, 0, 0, 0.0, None, None, "walking")
        self.signals.progress.emit(walking)
        log.info("screening %s with %s on %s", self.folder, self.handle.version, self.handle.device)
        job = ScreeningJob(
            self.handle.predictor(),
            self.folder,
            recursive=True,
            store=self.store,
            on_progress=lambda p: self.signals.progress.emit(ea.progress_view(p)),
            on_results=lambda batch: self.signals.results.emit(list(batch)),
            cancel=self.cancel_event,
        )
        summary = job.run()
        log.info(
            "screening %s %s: %d screened, %d skipped, %d unreadable of %d",
            self.folder,
            "cancelled" if summary.cancelled else "done",
            summary.predicted,
            summary.skipped,
            len(summary.errors),
            summary.total,
        )
        return summary
