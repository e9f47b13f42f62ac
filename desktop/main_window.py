"""The main window: it creates the widgets and the services and connects their signals.

Layout (see ../shared/design/desktop.md): a toolbar, an untrained-model banner, the screening
progress strip, then three panes in a splitter -- filters and runs | gallery (or the empty-store
call to action) | review panel -- with the unreadable-files dock below and the status bar.
Actions and menus: :mod:`desktop.menus`; dialogs: :mod:`desktop.dialogs`; engine work: services.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QThreadPool, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs import Dialogs
from desktop.gallery.filter_panel import FilterPanel
from desktop.gallery.model import GalleryModel, next_row
from desktop.gallery.thumbnails import ThumbnailLoader
from desktop.gallery.view import GalleryView
from desktop.menus import Menus
from desktop.review.panel import ReviewPanel
from desktop.services.active_model import ActiveModel
from desktop.services.cases import CaseStore
from desktop.services.gallery import GalleryQuery, thumbnail_cache
from desktop.services.i18n import _
from desktop.services.model import ActiveModelHandle
from desktop.services.review import ReviewService
from desktop.services.screening import Prediction, Screening, ScreeningSummary
from desktop.services.store import Stats, Store
from desktop.settings import Settings
from desktop.shell.empty_state import EmptyState, dropped_folder
from desktop.shell.error_reporting import ErrorReporter
from desktop.shell.errors_panel import ErrorsPanel
from desktop.shell.file_dialogs import choose_folder
from desktop.shell.forgotten_prompt import offer_readd
from desktop.shell.progress_strip import ProgressStrip, finished_message, stopped_message
from desktop.shell.rescreen import Rescreen
from desktop.shell.role_gate import RoleGate
from desktop.shell.session_state import SessionState
from desktop.shell.status_bar import StatusBar, UntrainedBanner
from desktop.shell.store_actions import StoreActions
from desktop.visits.actions import VisitActions

REFRESH_MS = 600  # gallery/status refresh while results arrive
MODEL_PRELOAD_MS = 1500  # after start-up, so importing torch does not slow the first paint


class MainWindow(QMainWindow):
    def __init__(
        self, store: Store, settings: Settings, reporter: ErrorReporter, db: str | None = None
    ) -> None:
        super().__init__()
        self.setWindowTitle("PoxScreen")  # the name, in every language
        self.setObjectName("main_window")
        self.settings, self.reporter, self.db = settings, reporter, db
        self.pool = QThreadPool.globalInstance()
        self.active = ActiveModel(store, settings.device, self.pool, reporter)
        self.cases = CaseStore(store, self.active, self.pool, reporter)
        self.roles = RoleGate(lambda: self.settings.clinician, self)  # who acts, and may
        self.screening = Screening(self.active, self)
        self._build_widgets()
        self.dialogs = Dialogs(self)
        self.care = StoreActions(self)  # forget a photo, back up, check
        self.rescreen = Rescreen(self)  # a run screened by an older model, screened again
        self.visit_actions = VisitActions(self)  # visit view, PATIENT/VISIT screening, by hand
        self.menus = Menus(self)
        self.roles.use(store)
        self.session = SessionState(self)  # the last session's layout, filter, run and photo
        self._connect()
        self.setAcceptDrops(True)
        self.refresh_all()
        # torch loads in the background once the gallery is up (a screening asks for it sooner)
        QTimer.singleShot(MODEL_PRELOAD_MS, self.active.load)

    @property
    def store(self) -> Store:
        """The case store in use (it changes with File > Open case store)."""
        return self.cases.store

    # --- construction --------------------------------------------------------------------

    def _build_widgets(self) -> None:
        s = self.settings
        self.filters = FilterPanel()
        self.thumbs = ThumbnailLoader(thumbnail_cache(), s.thumb_size)
        self.model = GalleryModel(self.store, self.pool, self.thumbs, reporter=self.reporter)
        self.gallery = GalleryView(thumb_size=s.thumb_size)
        self.gallery.setModel(self.model)
        self.empty = EmptyState()
        self.center = QStackedWidget()
        self.center.addWidget(self.empty)
        self.center.addWidget(self.gallery)
        self.review_service = ReviewService(
            self.store, self.active.explainer, lambda: s.clinician, self.pool,
            colormap=s.colormap, opacity=s.opacity,
        )  # fmt: skip
        self.review = ReviewPanel(self.review_service)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main_splitter")
        for w in (self.filters, self.center, self.review):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([250, 740, 450])
        self.banner = UntrainedBanner()
        self.progress = ProgressStrip()
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        for w in (self.banner, self.progress):
            lay.addWidget(w)
        lay.addWidget(self.splitter, 1)
        self.setCentralWidget(body)
        self.errors = ErrorsPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.errors)
        self.errors.hide()
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.status.set_who(s.clinician, s.clinic)
        self.refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)

    def _connect(self) -> None:
        self.empty.screenRequested.connect(lambda: self.screen_folder())
        self.filters.queryChanged.connect(self.model.set_query)
        self.filters.queryChanged.connect(self._show_run_errors)
        self.gallery.currentItemChanged.connect(self.review.show_item)
        self.progress.cancelRequested.connect(self.cancel_screening)
        self.refresh_timer.timeout.connect(self._refresh_live)
        self.model.pageArrived.connect(self._on_page)
        self.model.countsArrived.connect(self.filters.set_counts)
        self.review.navigate.connect(self.navigate)
        self.review.reveal.connect(self._reveal)  # an undo changed another image: show that one
        self.review.labelled.connect(lambda _sha, _label: self.refresh_timer.start())
        self.active.loaded.connect(self._on_model)
        self.active.failed.connect(self.status.set_model_error)
        self.active.changed.connect(lambda _info: self.refresh_all())
        self.cases.runs.connect(self.filters.set_runs)
        self.cases.stats.connect(self._on_stats)
        self.cases.rule.connect(self.model.set_rule)
        self.cases.run_errors.connect(self._on_run_errors)
        self.cases.switched.connect(self._on_store_switched)
        sc = self.screening
        sc.started.connect(self._on_screening_started)
        sc.progress.connect(self.progress.update_progress)
        sc.results.connect(self._on_results)
        sc.finished.connect(self._on_screening_finished)
        sc.failed.connect(lambda f, exc: self.reporter.report(stopped_message(f), exc))
        sc.ended.connect(self._screening_done)

    # --- state -----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.screening.wait(30_000)
        self.session.save()  # layout, filter, sort, run and photo
        self.review_service.wait_idle(10_000)  # a label being saved is finished, not cut off
        self.thumbs.clear()
        self.thumbs.wait(5000)
        self.pool.waitForDone(10_000)
        super().closeEvent(event)

    # --- refreshing ------------------------------------------------------------------------

    def refresh_all(self) -> None:
        """Runs, counts, referral rule and gallery, read on worker threads."""
        self.cases.refresh()
        self.model.set_query(self.filters.query())

    def _refresh_live(self) -> None:
        """While results arrive: new rows, new counts, the new run in the list."""
        self.model.refresh()
        self.cases.refresh(rule=False)

    def _on_stats(self, stats: Stats) -> None:
        self.status.set_counts(stats)
        empty = stats.screened == 0 and not self.screening.running and self.model.rowCount() == 0
        self.center.setCurrentWidget(self.empty if empty else self.gallery)

    def _show_run_errors(self, query: GalleryQuery) -> None:
        """Selecting a run lists its unreadable files (when the store keeps them)."""
        if query.run_id is not None and not self.screening.running:
            self.cases.read_run_errors(query.run_id)

    def _on_run_errors(self, errors: list[tuple[str, str]]) -> None:
        if not self.screening.running:
            self.errors.set_errors(errors)

    def _on_page(self, rows: int) -> None:
        if rows:
            self.center.setCurrentWidget(self.gallery)

    def _on_model(self, handle: ActiveModelHandle) -> None:
        self.status.set_model(handle)
        self.banner.setVisible(not handle.trained)

    # --- screening -------------------------------------------------------------------------

    def screen_folder(self, folder: str | None = None) -> None:
        if self.screening.running:
            QMessageBox.information(self, "PoxScreen", _(
                "A screening is already running; cancel it or wait for it to finish."))  # fmt: skip
            return
        folder = folder or choose_folder(self, "screening", _("Screen a folder of photos"))
        if folder:
            self.screening.start(folder)

    def cancel_screening(self) -> None:
        self.screening.cancel()

    def _on_screening_started(self, folder: str) -> None:
        self.progress.start(folder)
        self.menus.act_screen.setEnabled(False)
        self.menus.act_cancel.setEnabled(True)
        self.errors.clear()
        self.center.setCurrentWidget(self.gallery)

    def _on_results(self, batch: list[Prediction]) -> None:
        shown = self.errors.isVisible()
        for p in batch:
            if p.error:
                self.errors.add(str(p.path), p.error)
        if not shown and self.errors.isVisible():
            self.resizeDocks([self.errors], [170], Qt.Orientation.Vertical)
        if not self.refresh_timer.isActive():
            self.refresh_timer.start()

    def _on_screening_finished(self, summary: ScreeningSummary) -> None:
        self.statusBar().showMessage(finished_message(summary), 15_000)
        for path, reason in summary.errors:
            self.errors.add(path, reason)
        folder = self.screening.folder
        if summary.forgotten and not summary.cancelled and folder:
            QTimer.singleShot(0, lambda: offer_readd(self, folder, summary.forgotten))

    def _screening_done(self) -> None:
        self.progress.finish()
        self.menus.act_screen.setEnabled(True)
        self.menus.act_cancel.setEnabled(False)
        self.refresh_timer.stop()
        self._refresh_live()

    # --- navigation (review panel requests) ------------------------------------------------

    def navigate(self, where: str) -> None:
        """Move the gallery selection in the current filter and sort; the panel follows."""
        row = next_row(self.model, self.gallery.currentIndex().row(), where)
        if row >= 0:
            self.gallery.select_row(row)

    def _reveal(self, sha256: str) -> None:
        if not self.gallery.select_sha(sha256):
            self.model.refresh()

    def focus_search(self) -> None:
        self.filters.search.setFocus()
        self.filters.search.selectAll()

    # --- the case store ----------------------------------------------------------------------

    def switch_database(self, db: str | None) -> None:
        """Open another case store (never while a screening writes to this one)."""
        if self.screening.running:
            QMessageBox.information(
                self, "PoxScreen", _("Cancel the running screening before changing the case store.")
            )
            return
        if self.cases.switch(db):
            self.db = db
            self.settings.database = db or ""

    def _on_store_switched(self, store: Store) -> None:
        self.roles.use(store)
        self.model.set_store(store)
        self.review_service.store = store
        self.review.show_item(None)
        self.refresh_all()

    # --- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if dropped_folder(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        folder = dropped_folder(event)
        if folder:
            event.acceptProposedAction()
            self.screen_folder(folder)
