"""The active model, loaded once on a worker thread (torch is imported there, not at start-up).

Screening and the review panel ask for it with ``when_ready(callback)``; the status bar listens
to ``loaded`` / ``failed``. A device change or a newly activated model calls ``reset``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from desktop.services import engine_calls as ea
from desktop.services.tasks import run_task

log = logging.getLogger(__name__)


class ModelService(QObject):
    loaded = Signal(object)  # ActiveModelHandle
    failed = Signal(str)

    def __init__(self, store: Any, device: str, pool: QThreadPool, reporter: Any = None) -> None:
        super().__init__()
        self.store = store
        self.device = device
        self.pool = pool
        self.reporter = reporter
        self.handle: ea.ActiveModelHandle | None = None
        self._waiting: list[Callable[[ea.ActiveModelHandle], None]] = []
        self._loading = False
        self._generation = 0

    def reset(self, store: Any = None, device: str | None = None) -> None:
        """Forget the loaded model (new store, device or active model); reload on next use."""
        if store is not None:
            self.store = store
        if device is not None:
            self.device = device
        self.handle = None
        self._loading = False
        self._generation += 1

    def load(self) -> None:
        """Start loading in the background (no-op when loaded or loading)."""
        if self.handle is not None or self._loading:
            return
        self._loading = True
        gen, store, device = self._generation, self.store, self.device

        def done(handle: ea.ActiveModelHandle) -> None:
            if gen != self._generation:
                return
            self._loading = False
            self.handle = handle
            log.info(
                "model %s on %s loaded in %.2f s", handle.version, handle.device, handle.loaded_s
            )
            self.loaded.emit(handle)
            waiting, self._waiting = self._waiting, []
            for cb in waiting:
                cb(handle)

        def failed(exc: BaseException) -> None:
            if gen != self._generation:
                return
            self._loading = False
            self._waiting.clear()
            self.failed.emit(str(exc))
            if self.reporter is not None:
                self.reporter.report("The screening model could not be loaded", exc)

        run_task(self.pool, lambda: ea.load_active_model(store, device), done, on_error=failed)

    def when_ready(self, callback: Callable[[ea.ActiveModelHandle], None]) -> None:
        """Call ``callback(handle)`` on the GUI thread once the model is loaded."""
        if self.handle is not None:
            callback(self.handle)
            return
        self._waiting.append(callback)
        self.load()
