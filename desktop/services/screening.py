"""Screening a folder: engine.screening.ScreeningJob on a worker thread, answered with signals.

:class:`Screening` is what the window drives: ``start(folder)`` waits for the active model
(``ActiveModel.when_ready``: the model in use *now*), then runs a :class:`ScreeningWorker` on its
own one-thread pool. Everything the window shows arrives through queued signals: progress (a
ProgressView), each batch of results (engine Predictions, unreadable files included), and the
summary or the exception. Cancel sets an Event the job checks between batches, so a cancel keeps
every finished batch. Nothing here touches a widget.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop.services.active_model import ActiveModel
from desktop.services.model import ActiveModelHandle
from engine.pipeline import Prediction
from engine.screening import Progress, ScreeningSummary
from engine.store import Store

log = logging.getLogger(__name__)

__all__ = ["Prediction", "ProgressView", "Screening", "ScreeningSummary", "ScreeningWorker"]


@dataclass(frozen=True)
class ProgressView:
    """What the progress strip shows."""

    done: int
    total: int
    errors: int
    skipped: int
    rate: float
    eta_s: float | None
    current: str | None
    phase: str


def progress_view(p: Progress) -> ProgressView:
    """What the progress strip shows for an engine Progress."""
    return ProgressView(
        done=p.done,
        total=p.total,
        errors=p.errors,
        skipped=p.skipped,
        rate=float(p.rate or 0.0),
        eta_s=p.eta_s,
        current=p.current,
        phase=p.phase,
    )


class ScreeningSignals(QObject):
    progress = Signal(object)  # ProgressView
    results = Signal(list)  # list[engine.pipeline.Prediction]
    finished = Signal(object)  # engine.screening.ScreeningSummary
    failed = Signal(object)  # the exception


class ScreeningWorker(QRunnable):
    """Screen ``folder`` (recursively) with the loaded model into ``store``."""

    def __init__(
        self,
        handle: ActiveModelHandle,
        store: Store,
        folder: str | Path,
        readd_forgotten: bool = False,
        rescreen_of: int | None = None,
        layout: str | None = None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.visit_layout = layout  # "patient/visit": read patient and visit from the folders
        self.readd_forgotten = readd_forgotten
        self.rescreen_of = rescreen_of
        self.handle = handle
        self.store = store
        self.folder = Path(folder)
        self.cancel_event = threading.Event()
        self.signals = ScreeningSignals()
        self.summary: ScreeningSummary | None = None

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        try:
            self.summary = self._run()
        except Exception as exc:  # reported by the window; the store stays consistent
            log.exception("screening %s failed", self.folder)
            self.signals.failed.emit(exc)
        else:
            self.signals.finished.emit(self.summary)

    def _run(self) -> ScreeningSummary:
        from engine.screening import ScreeningJob

        self.signals.progress.emit(ProgressView(0, 0, 0, 0, 0.0, None, None, "walking"))
        log.info("screening %s with %s on %s", self.folder, self.handle.version, self.handle.device)
        job = ScreeningJob(
            self.handle.predictor(),
            self.folder,
            recursive=True,
            store=self.store,
            on_progress=lambda p: self.signals.progress.emit(progress_view(p)),
            on_results=lambda batch: self.signals.results.emit(list(batch)),
            cancel=self.cancel_event,
            readd_forgotten=self.readd_forgotten,
            # a re-screen is a new run linked to the earlier one; screening a folder again with
            # the same model adds to its earlier run
            run_options={"rescreen_of": self.rescreen_of} if self.rescreen_of else None,
            continue_finished=self.rescreen_of is None,
            layout=self.visit_layout,
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


class Screening(QObject):
    """One screening at a time, with the active model at the moment it starts."""

    started = Signal(str)  # folder (the model may still be loading)
    progress = Signal(object)  # ProgressView
    results = Signal(list)  # list[Prediction]
    finished = Signal(object)  # ScreeningSummary
    failed = Signal(str, object)  # folder, exception
    ended = Signal()  # after finished, failed or a cancel before the worker started

    def __init__(self, active: ActiveModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.active = active
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.worker: ScreeningWorker | None = None
        self._pending: str | None = None
        self.folder: str | None = None  # the folder screened last

    @property
    def running(self) -> bool:
        """A screening was asked for and has not ended (its model may still be loading)."""
        return self.worker is not None or self._pending is not None

    def start(
        self,
        folder: str,
        *,
        readd_forgotten: bool = False,
        rescreen_of: int | None = None,
        layout: str | None = None,
    ) -> bool:
        """Screen ``folder`` into the active model's store; False when one is already running.
        Photos forgotten in the store are skipped unless ``readd_forgotten``. The same folder
        with the same model continues its earlier run; ``rescreen_of`` (a run screened by an
        older model) makes a new run linked to that one; ``layout`` ("patient/visit") reads
        patient and visit from the folders."""
        if self.running:
            return False
        self._pending = self.folder = folder
        self.started.emit(folder)
        self.active.when_ready(
            lambda handle: self._start_worker(handle, folder, readd_forgotten, rescreen_of, layout)
        )
        return True

    def _start_worker(
        self,
        handle: ActiveModelHandle,
        folder: str,
        readd: bool,
        rescreen_of: int | None,
        layout: str | None = None,
    ) -> None:
        if self._pending != folder:  # cancelled while the model was loading
            return
        self._pending = None
        worker = ScreeningWorker(handle, self.active.store, folder, readd, rescreen_of, layout)
        worker.signals.progress.connect(self.progress)
        worker.signals.results.connect(self.results)
        worker.signals.finished.connect(self._finished)
        worker.signals.failed.connect(lambda exc: self._failed(folder, exc))
        self.worker = worker
        self.pool.start(worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        elif self._pending is not None:
            self._pending = None
            self.ended.emit()

    def wait(self, msecs: int = 30_000) -> bool:
        """Cancel and wait for the job (closing the app). A screening still waiting for its
        model never starts: it would run on after the window and its signals are gone."""
        self._pending = None
        if self.worker is not None:
            self.worker.cancel()
        return self.pool.waitForDone(msecs)

    def _finished(self, summary: ScreeningSummary) -> None:
        self.worker = None
        self.finished.emit(summary)
        self.ended.emit()

    def _failed(self, folder: str, exc: BaseException) -> None:
        self.worker = None
        self.failed.emit(folder, exc)
        self.ended.emit()
