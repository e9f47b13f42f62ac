"""The one owner of the active model.

Every path that changes which model screens goes through :class:`ActiveModel`: Activate and
Roll back (the models view), Promote and Discard (the comparison), a change of case store and a
change of device (settings). For each change it reloads the model on a worker thread (torch is
imported there, never at start-up), forgets the Grad-CAM explainer of the old one (it lives on
the old handle), and says so with ``loaded`` (the status bar, the banner) and ``changed`` (the
views that list versions); the next screening asks ``when_ready`` and gets the new model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QThreadPool, Signal

from desktop.services import versions
from desktop.services.i18n import _
from desktop.services.model import ActiveModelHandle, load_active_model
from desktop.services.tasks import run_task
from engine.store import ModelInfo, Store

if TYPE_CHECKING:
    from engine.explain import Explainer

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Where unexpected errors go (desktop.shell.error_reporting.ErrorReporter)."""

    def report(self, what: str, exc: BaseException) -> None: ...


Done = Callable[[ModelInfo], None]
Failed = Callable[[BaseException], None]


class ActiveModel(QObject):
    """The model in use: loads it, hands it out, and carries out every change of it."""

    loaded = Signal(object)  # ActiveModelHandle, after every (re)load
    failed = Signal(str)  # the model could not be loaded
    changed = Signal(object)  # ModelInfo: the registry's active version changed

    def __init__(
        self, store: Store, device: str, pool: QThreadPool, reporter: Reporter | None = None
    ) -> None:
        super().__init__()
        self.store = store
        self.device = device
        self.pool = pool
        self.reporter = reporter
        self.handle: ActiveModelHandle | None = None
        self._waiting: list[Callable[[ActiveModelHandle], None]] = []
        self._loading = False
        self._generation = 0

    # --- loading ------------------------------------------------------------------------

    def load(self) -> None:
        """Start loading in the background (no-op when loaded or loading)."""
        if self.handle is not None or self._loading:
            return
        self._loading = True
        gen, store, device = self._generation, self.store, self.device
        run_task(
            self.pool,
            lambda: load_active_model(store, device),
            lambda handle: self._loaded(gen, handle),
            on_error=lambda exc: self._load_failed(gen, exc),
        )

    def _loaded(self, gen: int, handle: ActiveModelHandle) -> None:
        if gen != self._generation:
            return
        self._loading = False
        self.handle = handle
        log.info("model %s on %s loaded in %.2f s", handle.version, handle.device, handle.loaded_s)
        self.loaded.emit(handle)
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback(handle)

    def _load_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        self._loading = False
        self._waiting.clear()
        self.failed.emit(str(exc))
        if self.reporter is not None:
            self.reporter.report(_("The screening model could not be loaded"), exc)

    def when_ready(self, callback: Callable[[ActiveModelHandle], None]) -> None:
        """Call ``callback(handle)`` on the GUI thread once the model is loaded."""
        if self.handle is not None:
            callback(self.handle)
            return
        self._waiting.append(callback)
        self.load()

    def explainer(self) -> Explainer:
        """The active model's Grad-CAM explainer. Called on a worker thread (review panel);
        loads the model there when it is not loaded yet."""
        handle = self.handle or load_active_model(self.store, self.device)
        return handle.explainer()

    def reload(self) -> None:
        """Forget the loaded model and its explainer, and load the one now active."""
        self.handle = None
        self._loading = False
        self._generation += 1
        self.load()

    # --- changes of the model in use ---------------------------------------------------------

    def set_store(self, store: Store) -> None:
        """Another case store is open: its active model screens from now on."""
        self.store = store
        self.reload()

    def set_device(self, device: str) -> None:
        """Another device (auto, cpu, cuda): the model is loaded again on it."""
        self.device = device
        self.reload()

    def activate(
        self,
        ref: str,
        on_done: Done | None = None,
        on_error: Failed | None = None,
        *,
        reason: str = "",
    ) -> None:
        """Make a registered version active (name, version or content hash), recording who
        and, for a version its records advise against, the ``reason`` (required then)."""
        store, who = self.store, versions.current_user()
        work = lambda: versions.activate(store, ref, who=who, reason=reason)  # noqa: E731
        self._change(work, on_done, on_error)

    def roll_back(
        self,
        on_done: Done | None = None,
        on_error: Failed | None = None,
        *,
        ref: str | None = None,
        reason: str = "",
    ) -> None:
        """Back to ``ref``, by default the active model's parent (the version it was fine-tuned
        from); recorded as :meth:`activate` is, and needing a reason as it does."""
        store, who = self.store, versions.current_user()
        work = lambda: versions.activate(  # noqa: E731
            store, ref, who=who, reason=reason, rollback=True
        )
        self._change(work, on_done, on_error)

    def promote(
        self,
        comparison: versions.Comparison,
        *,
        force: bool,
        who: str,
        on_done: Done | None = None,
        on_error: Failed | None = None,
    ) -> None:
        """A fine-tuned version becomes active through the gate (or forced, and noted)."""
        store = self.store
        work = lambda: versions.promote(store, comparison, force=force, who=who)  # noqa: E731
        self._change(work, on_done, on_error)

    def discard(
        self,
        comparison: versions.Comparison,
        who: str,
        on_done: Callable[[None], None] | None = None,
        on_error: Failed | None = None,
    ) -> None:
        """Leave a fine-tuned version inactive (the model in use does not change)."""
        store = self.store
        run_task(
            self.pool,
            lambda: versions.discard(store, comparison, who),
            on_done,
            on_error=on_error,
            reporter=self.reporter,
            what=_("The new model could not be discarded"),
        )

    def _change(
        self, work: Callable[[], ModelInfo], on_done: Done | None, on_error: Failed | None
    ) -> None:
        def done(info: ModelInfo) -> None:
            log.info("active model now %s", info.version)
            self.reload()
            self.changed.emit(info)
            if on_done is not None:
                on_done(info)

        run_task(
            self.pool,
            work,
            done,
            on_error=on_error,
            reporter=self.reporter,
            what=_("The active model could not be changed"),
        )
