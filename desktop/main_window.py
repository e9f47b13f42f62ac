"""The main window: it only wires widgets, actions and workers together.

Layout (see ../shared/design/desktop.md): a toolbar, an untrained-model banner, the screening
progress strip, then three panes in a splitter -- filters and runs | gallery (or the empty-store
call to action) | review panel -- with the unreadable-files dock below and the status bar.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QThreadPool, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop.gallery.filter_panel import FilterPanel
from desktop.gallery.model import GalleryModel, next_row
from desktop.gallery.thumbnails import ThumbnailLoader
from desktop.gallery.view import GalleryView
from desktop.part2 import install_part2
from desktop.services import engine_calls as ea
from desktop.services.active_model import ModelService
from desktop.services.screening import ScreeningWorker
from desktop.services.tasks import run_task
from desktop.settings import Settings
from desktop.shell.empty_state import EmptyState
from desktop.shell.errors_panel import ErrorsPanel
from desktop.shell.help_dialog import ShortcutsDialog
from desktop.shell.progress_strip import ProgressStrip
from desktop.shell.settings_dialog import SettingsDialog
from desktop.shell.status_bar import StatusBar, UntrainedBanner
from desktop.shell.store_actions import install_store_actions

log = logging.getLogger(__name__)

PART2 = "coming in part 2"
REFRESH_MS = 600  # gallery/status refresh while results arrive
MODEL_PRELOAD_MS = 1500  # after start-up, so importing torch does not slow the first paint


def dropped_folder(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The first local folder in a drag, if any."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
            return url.toLocalFile()
    return None


class _PlaceholderPanel(QLabel):
    """Stands in for the review panel (the "review" stream) until desktop.review.panel lands."""

    def __init__(self) -> None:
        super().__init__("Select an image to review it.\n\n(The review panel is not installed.)")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)

    def show_item(self, item: Any) -> None:
        self.setText("" if item is None else f"{Path(item.path or '').name}\n\n(no review panel)")

    def review_actions(self) -> list[QAction]:
        return []


class MainWindow(QMainWindow):
    def __init__(
        self, store: Any, settings: Settings, reporter: Any, db: str | None = None
    ) -> None:
        super().__init__()
        self.setWindowTitle("PoxScreen")
        self.setObjectName("main_window")
        self.store, self.settings, self.reporter, self.db = store, settings, reporter, db
        self.pool = QThreadPool.globalInstance()
        self.screen_pool = QThreadPool(self)
        self.screen_pool.setMaxThreadCount(1)
        self.worker: ScreeningWorker | None = None
        self._pending_folder: str | None = None
        self.rule: Any = ea.default_rule()
        self.models = ModelService(store, settings.device, self.pool, reporter)
        self._build_widgets()
        self._build_actions()
        self._build_menus()
        self._connect()
        self.part2_dialogs = install_part2(self)  # fine-tune, models, export, print (issue #11)
        self.store_actions = install_store_actions(self)  # forget a photo, back up, check
        self._restore_state()
        self.setAcceptDrops(True)
        self.refresh_all()
        # torch loads in the background once the gallery is up (a screening asks for it sooner)
        QTimer.singleShot(MODEL_PRELOAD_MS, self.models.load)

    # --- construction --------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.filters = FilterPanel()
        self.thumbs = ThumbnailLoader(ea.thumbnail_cache(), self.settings.thumb_size)
        self.model = GalleryModel(self.store, self.pool, self.thumbs, reporter=self.reporter)
        self.gallery = GalleryView(thumb_size=self.settings.thumb_size)
        self.gallery.setModel(self.model)
        self.empty = EmptyState()
        self.center = QStackedWidget()
        self.center.addWidget(self.empty)
        self.center.addWidget(self.gallery)
        self.review = self._make_review_panel()
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
        self.refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)

    def _make_review_panel(self) -> QWidget:
        """The review stream's ReviewPanel when installed, else a plain placeholder."""
        try:
            from desktop.review.panel import ReviewPanel
            from desktop.review.services import ReviewServices
        except ImportError:
            log.info("review panel not installed; showing a placeholder")
            return _PlaceholderPanel()
        services = ReviewServices(
            store=self.store,
            explainer=self._explainer,
            who=lambda: self.settings.clinician,
            pool=self.pool,
            colormap=self.settings.colormap,
            opacity=self.settings.opacity,
        )
        self.review_services = services
        return ReviewPanel(services)

    def _explainer(self) -> Any:
        """Called by the review panel on a worker thread: loads the model there if needed."""
        handle = self.models.handle or ea.load_active_model(self.store, self.settings.device)
        return handle.explainer()

    def _action(self, text: str, slot: Any = None, keys: Any = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if keys is not None:
            a.setShortcuts(keys if isinstance(keys, list) else [QKeySequence(keys)])
        if slot is not None:
            a.triggered.connect(slot)
        shortcut = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        a.setToolTip(f"{tip or text.rstrip('.')} ({shortcut})" if shortcut else (tip or text))
        return a

    def _build_actions(self) -> None:
        A = self._action
        self.act_screen = A(
            "&Screen a folder...",
            lambda: self.screen_folder(),
            "Ctrl+O",
            "Screen every photo in a folder and its sub-folders",
        )
        self.act_cancel = A("&Cancel screening", self.cancel_screening, "Ctrl+.")
        self.act_cancel.setEnabled(False)
        self.act_open_db = A("&Open case store...", self.choose_database)
        self.act_settings = A(
            "S&ettings...", self.open_settings, QKeySequence.StandardKey.Preferences
        )
        self.act_quit = A("&Quit", self.close, "Ctrl+Q")
        self.act_search = A("&Find by file name", self.focus_search, "Ctrl+F")
        self.act_refresh = A("&Refresh", self.refresh_all, "F5")
        self.act_shortcuts = A("&Keyboard shortcuts", self.show_shortcuts, "F1")
        self.act_about = A("&About PoxScreen", self.show_about)
        self.act_errors = self.errors.toggleViewAction()
        self.act_errors.setText("&Unreadable files")
        self.part2 = {}
        for text in ("Fine-tune...", "Models...", "Export", "Print report..."):
            a = A(text, tip=PART2)
            a.setEnabled(False)
            a.setStatusTip(PART2)
            self.part2[text] = a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = self.file_menu = mb.addMenu("&File")
        for a in (
            self.act_screen,
            self.act_open_db,
            None,
            self.part2["Export"],
            self.part2["Print report..."],
            None,
            self.act_settings,
            None,
            self.act_quit,
        ):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Screen")
        m.addActions([self.act_screen, self.act_cancel])
        self.review_menu = mb.addMenu("&Review")
        self.review_menu.addActions(self.review.review_actions())
        self.review_menu.addSeparator()
        self.review_menu.addAction(self.act_search)
        m = self.models_menu = mb.addMenu("&Models")
        m.addActions([self.part2["Fine-tune..."], self.part2["Models..."]])
        m = mb.addMenu("&View")
        m.addActions([self.act_errors, self.act_refresh])
        m = mb.addMenu("&Help")
        m.addActions([self.act_shortcuts, self.act_about])
        tb = QToolBar("Main")
        tb.setObjectName("main_toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addActions([self.act_screen, self.part2["Fine-tune..."], self.part2["Export"]])
        tb.addSeparator()
        spacer = QWidget()
        spacer.setSizePolicy(
            spacer.sizePolicy().horizontalPolicy().Expanding, spacer.sizePolicy().verticalPolicy()
        )
        tb.addWidget(spacer)
        self.filters.search.setMaximumWidth(280)
        tb.addWidget(self.filters.search)
        self.addToolBar(tb)

    def _connect(self) -> None:
        self.empty.screenRequested.connect(lambda: self.screen_folder())
        self.filters.queryChanged.connect(self.model.set_query)
        self.filters.queryChanged.connect(self._show_run_errors)
        self.gallery.currentItemChanged.connect(self.review.show_item)
        self.progress.cancelRequested.connect(self.cancel_screening)
        self.refresh_timer.timeout.connect(self._refresh_live)
        self.models.loaded.connect(self._on_model)
        self.models.failed.connect(self.status.set_model_error)
        if hasattr(self.review, "navigate"):
            self.review.navigate.connect(self.navigate)
        if hasattr(self.review, "reveal"):  # an undo changed another image: show that one
            self.review.reveal.connect(self._reveal)
        if hasattr(self.review, "labelled"):
            self.review.labelled.connect(lambda _sha, _label: self.refresh_timer.start())
        self.model.pageArrived.connect(self._on_page)

    # --- state -----------------------------------------------------------------------------

    def _restore_state(self) -> None:
        geo = self.settings.state("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 880)
        split = self.settings.state("splitter")
        if split is not None:
            self.splitter.restoreState(split)

    def save_state(self) -> None:
        self.settings.set_state("geometry", self.saveGeometry())
        self.settings.set_state("splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.worker is not None:
            self.worker.cancel()
            self.screen_pool.waitForDone(30_000)
        self.save_state()
        if hasattr(self.review, "wait_idle"):
            self.review.wait_idle(10_000)  # a label being saved is finished, not cut off
        self.thumbs.clear()
        self.thumbs.wait(5000)
        self.pool.waitForDone(10_000)
        super().closeEvent(event)

    # --- refreshing ------------------------------------------------------------------------

    def refresh_all(self) -> None:
        """Runs, counts, referral rule and gallery, read on worker threads."""
        store = self.store
        run_task(
            self.pool,
            lambda: ea.runs(store),
            self.filters.set_runs,
            what="Could not read the screening runs",
            reporter=self.reporter,
        )
        run_task(
            self.pool,
            lambda: ea.referral_rule(store),
            self._on_rule,
            what="Could not read the referral rule",
            reporter=self.reporter,
        )
        self._refresh_stats()
        self.model.set_query(self.filters.query())

    def _refresh_stats(self) -> None:
        store = self.store
        run_task(
            self.pool,
            lambda: ea.stats(store),
            self._on_stats,
            what="Could not count the case store",
            reporter=self.reporter,
        )

    def _refresh_live(self) -> None:
        """While results arrive: new rows, new counts, the new run in the list."""
        self.model.refresh()
        self._refresh_stats()
        store = self.store
        run_task(self.pool, lambda: ea.runs(store), self.filters.set_runs, reporter=self.reporter)

    def _on_stats(self, stats: ea.Stats) -> None:
        self.status.set_counts(stats)
        empty = stats.screened == 0 and self.worker is None and self.model.rowCount() == 0
        self.center.setCurrentWidget(self.empty if empty else self.gallery)

    def _show_run_errors(self, query: ea.GalleryQuery) -> None:
        """Selecting a run lists its unreadable files (when the store keeps them)."""
        if query.run_id is None or self.worker is not None:
            return
        store, run_id = self.store, query.run_id

        def shown(errors: list[tuple[str, str]] | None) -> None:
            if errors is not None and self.worker is None:
                self.errors.set_errors(errors)

        run_task(self.pool, lambda: ea.run_errors(store, run_id), shown, reporter=self.reporter)

    def _on_rule(self, rule: Any) -> None:
        self.rule = rule
        self.model.set_rule(rule)

    def _on_page(self, rows: int) -> None:
        if rows:
            self.center.setCurrentWidget(self.gallery)

    def _on_model(self, handle: ea.ActiveModelHandle) -> None:
        self.status.set_model(handle)
        self.banner.setVisible(not handle.trained)

    # --- screening -------------------------------------------------------------------------

    def screen_folder(self, folder: str | None = None) -> None:
        if self.worker is not None:
            QMessageBox.information(
                self,
                "PoxScreen",
                "A screening is already running; cancel it or wait for it to finish.",
            )
            return
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Screen a folder of photos")
        if not folder:
            return
        self.progress.start(folder)
        self.act_screen.setEnabled(False)
        self.act_cancel.setEnabled(True)
        self.errors.clear()
        self.center.setCurrentWidget(self.gallery)
        self._pending_folder = folder
        self.models.when_ready(lambda handle: self._start_worker(handle, folder))

    def _start_worker(self, handle: ea.ActiveModelHandle, folder: str) -> None:
        if self._pending_folder is None:  # cancelled while the model was loading
            return
        self._pending_folder = None
        worker = ScreeningWorker(handle, self.store, folder)
        worker.signals.progress.connect(self.progress.update_progress)
        worker.signals.results.connect(self._on_results)
        worker.signals.finished.connect(self._on_screening_finished)
        worker.signals.failed.connect(lambda exc: self._on_screening_failed(folder, exc))
        self.worker = worker
        self.screen_pool.start(worker)

    def cancel_screening(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        elif getattr(self, "_pending_folder", None):
            self._pending_folder = None
            self._screening_done()

    def _on_results(self, batch: list[Any]) -> None:
        shown = self.errors.isVisible()
        for p in batch:
            if p.error:
                self.errors.add(str(p.path), p.error)
        if not shown and self.errors.isVisible():
            self.resizeDocks([self.errors], [170], Qt.Orientation.Vertical)
        if not self.refresh_timer.isActive():
            self.refresh_timer.start()

    def _on_screening_finished(self, summary: Any) -> None:
        state = "cancelled" if summary.cancelled else "finished"
        self.statusBar().showMessage(
            f"Screening {state}: {summary.predicted} new, {summary.skipped} already screened, "
            f"{len(summary.errors)} unreadable",
            15_000,
        )
        for path, reason in summary.errors:
            self.errors.add(path, reason)
        self._screening_done()

    def _on_screening_failed(self, folder: str, exc: BaseException) -> None:
        self.reporter.report(f"Screening of {folder} stopped", exc)
        self._screening_done()

    def _screening_done(self) -> None:
        self.worker = None
        self.progress.finish()
        self.act_screen.setEnabled(True)
        self.act_cancel.setEnabled(False)
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

    # --- dialogs ---------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.filters.search.setFocus()
        self.filters.search.selectAll()

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self.rule, ea.referral_rule_editable(self.store), self)
        if dlg.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.apply_settings(dlg.apply(), dlg.rule_values())

    def apply_settings(self, changed: set[str], rule: tuple[float, float]) -> None:
        if "thumb_size" in changed:
            self.gallery.set_thumb_size(self.settings.thumb_size)
        if "device" in changed:
            self.models.reset(device=self.settings.device)
            self.models.load()
            if hasattr(self.review, "reset_explainer"):
                self.review.reset_explainer()
        if "colormap" in changed and hasattr(self.review, "set_colormap"):
            self.review.set_colormap(self.settings.colormap)
        if "opacity" in changed and hasattr(self.review, "set_opacity"):
            self.review.set_opacity(self.settings.opacity)
        services = getattr(self, "review_services", None)
        if services is not None:
            services.colormap, services.opacity = self.settings.colormap, self.settings.opacity
        if "referral" in changed:
            store, who = self.store, self.settings.clinician
            run_task(
                self.pool,
                lambda: ea.set_referral_rule(store, rule[0], rule[1], who),
                lambda _r: self.refresh_all(),
                what="Could not save the referral rule",
                reporter=self.reporter,
            )
        if "database" in changed:
            self.switch_database(self.settings.database or None)

    def choose_database(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open case store", "", "PoxScreen database (*.db);;All files (*)"
        )
        if path:
            self.switch_database(path)

    def switch_database(self, db: str | None) -> None:
        """Open another case store (never while a screening writes to this one)."""
        if self.worker is not None:
            QMessageBox.information(
                self, "PoxScreen", "Cancel the running screening before changing the case store."
            )
            return
        try:
            store = ea.open_store(db)
        except Exception as exc:  # newer/foreign/locked: say so, keep the current store
            self.reporter.report(
                f"The case store {db or '(default)'} could not be opened; the current one stays open",
                exc,
            )
            return
        self.store, self.db = store, db
        self.settings.database = db or ""
        self.models.reset(store=store)
        self.models.load()
        self.model.set_store(store)
        if hasattr(self, "review_services"):
            self.review_services.store = store
        if hasattr(self.review, "reset_explainer"):
            self.review.reset_explainer()
        self.review.show_item(None)
        self.refresh_all()

    def show_shortcuts(self) -> None:
        actions = [a for m in self.menuBar().findChildren(QMenu) for a in m.actions()]
        ShortcutsDialog(actions, self).exec()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About PoxScreen",
            "<b>PoxScreen</b><br>An offline screening aid for skin photos (Mpox, Chickenpox, Measles, Normal).<br><br><b>Not a diagnosis.</b> Every result needs a clinician's judgement. Photos never leave this computer.",
        )

    # --- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if dropped_folder(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        folder = dropped_folder(event)
        if folder:
            event.acceptProposedAction()
            self.screen_folder(folder)
