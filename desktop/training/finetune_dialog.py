"""Fine-tune dialog: what will be trained on, the recipe's settings, and a live view of the run.

Training runs in a separate process (desktop.services.training.TrainingProcess); this dialog only
reads its progress events on a timer, so screening and reviewing go on. Closing it (or the app)
while a run is going asks whether to stop it or let it finish in the background; opening the
dialog again re-attaches to that run through its run folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.services import training as backend
from desktop.services.active_model import ActiveModel
from desktop.services.i18n import _
from desktop.services.store import db_url
from desktop.services.tasks import run_in_pool
from desktop.settings import Settings
from desktop.shell.file_dialogs import choose_folder
from desktop.training.compare_view import CompareView
from desktop.training.data_box import build_data_box, fill_counts, finished_text, plan_texts
from desktop.training.decision_view import DecisionView
from desktop.training.progress_view import TrainingProgress
from desktop.training.recipe_form import RecipeForm

POLL_MS = 400
TOP_MIN_HEIGHT = 200  # the data's first rows in view on a 768-pixel screen
STOP, BACKGROUND, CANCEL = "stop", "background", "cancel"


class FinetuneDialog(QDialog):
    """Counts, warnings and split; settings; Start/Stop; live curves; then the comparison."""

    finished_run = Signal(object)  # Path of a run folder that produced a model

    def __init__(
        self,
        active: ActiveModel,
        parent: QWidget | None = None,
        run_root: Path | None = None,
        app_settings: Settings | None = None,
        admin: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Fine-tune the model"))
        self.setModal(False)
        self.active = active
        self.run_root = run_root
        self.app_settings = app_settings  # keeps the recipe chosen last time
        self.admin = admin  # False: a clinician on a shared store may train, not promote
        self.proc: backend.TrainingProcess | None = None
        self.plan: backend.TrainingPlan | None = None
        self.result: backend.TrainingResult | None = None
        self.compare: CompareView | None = None
        self._started_at = 0.0
        self._plan_gen = 0  # answers for an older request are dropped
        self._timer = QTimer(self, interval=POLL_MS, timeout=self._poll)
        layout = QVBoxLayout(self)
        self.recipe = RecipeForm(self)
        if app_settings is not None:
            self.recipe.set_values(app_settings.recipe)
        # the data, and the recipe's Advanced rows once opened, scroll: the dialog fits a
        # 1366x768 screen with the main settings and the curves in view
        self.top_area = scroll_area(build_data_box(self), self.recipe.advanced)
        reveal_when_opened(self.top_area, self.recipe.advanced_toggle, self.recipe.advanced)
        layout.addWidget(self.top_area, stretch=2)
        layout.addWidget(self.recipe)
        self.progress = TrainingProgress(self)
        self.curves, self.status, self.bar = (
            self.progress.curves,
            self.progress.status,
            self.progress.bar,
        )
        layout.addWidget(self.progress, stretch=3)
        self.decision = DecisionView(self)
        self.decision.hide()  # until a run has ended with a decision
        layout.addWidget(self.decision)
        layout.addLayout(self._build_buttons())
        self.resize(980, fitting_height(self))
        self.refresh_plan()
        self._try_attach()

    # --- layout -----------------------------------------------------------------------------

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(980, fitting_height(self))

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton(_("Start"))
        self.stop_button = QPushButton(_("Stop"))
        self.compare_button = QPushButton(_("Compare with the active model..."))
        close = QPushButton(_("Close"))
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.compare_button.clicked.connect(self.open_comparison)
        close.clicked.connect(self.close)
        self.stop_button.setEnabled(False)
        self.compare_button.setEnabled(False)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.compare_button)
        row.addStretch(1)
        row.addWidget(close)
        return row

    # --- the plan -----------------------------------------------------------------------------

    def folder_paths(self) -> list[Path]:
        return [Path(self.folders.item(i).text()) for i in range(self.folders.count())]

    def add_folder(self, folder: Path) -> None:
        self.folders.addItem(str(folder))
        self.refresh_plan()

    def _add_folder(self) -> None:
        folder = choose_folder(self, "class_folders", _("Folder with one sub-folder per class"))
        if folder:
            self.add_folder(Path(folder))

    def _remove_folder(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
        self.refresh_plan()

    def refresh_plan(self) -> None:
        """Recount off the GUI thread (folders may be large)."""
        self.start_button.setEnabled(False)
        self._plan_gen += 1
        gen = self._plan_gen
        store, folders, use = self.active.store, self.folder_paths(), self.use_store.isChecked()
        run_in_pool(
            lambda: backend.training_plan(store, folders, use),
            lambda plan: self._show_plan(plan) if gen == self._plan_gen else None,
            self._plan_failed,
        )

    def _show_plan(self, plan: backend.TrainingPlan) -> None:
        self.plan = plan
        fill_counts(self.counts, plan)
        excluded, warnings, split, lab_only = plan_texts(plan)
        self.excluded.setText(excluded)
        self.warnings.setText(warnings)
        self.split.setText(split)
        self.lab_only.setText(lab_only)
        self._show_class_counts(plan.class_counts(), backend.MIN_LABELS_TO_CHECK)
        self.start_button.setEnabled(plan.can_start and not self.is_running)

    def _show_class_counts(self, counts: dict[str, int], min_labels: int) -> None:
        text = backend.class_count_text(counts, min_labels)
        self.class_counts.setText(
            _("<b>Labels per class:</b> {counts}").format(counts=text) if text else ""
        )

    def _handle(self, event: dict[str, Any]) -> None:
        """One progress event: the live view, and the trainer's own per-class label counts."""
        self.progress.handle(event)
        if event.get("event") == "classes" and isinstance(event.get("counts"), dict):
            min_labels = int(event.get("min_labels") or backend.MIN_LABELS_TO_CHECK)
            self._show_class_counts(event["counts"], min_labels)

    def _plan_failed(self, exc: BaseException) -> None:
        self.warnings.setText(
            "\u26a0 " + _("Could not count the training data: {error}").format(error=exc)
        )

    # --- running ------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return self.recipe.values()

    @property
    def is_running(self) -> bool:
        return self.proc is not None and self.proc.running

    def start(self) -> None:
        args = backend.training_args(
            self.settings(), self.folder_paths(), self.use_store.isChecked(),
            self.lab_only.isChecked(),
        )  # fmt: skip
        run_dir = None
        if self.run_root is not None:
            run_dir = self.run_root / f"gui-{time.strftime('%Y%m%d-%H%M%S')}"
        if self.app_settings is not None:
            self.app_settings.recipe = self.settings()
        store = self.active.store
        self.proc = backend.start_training(args, db_url(store), run_dir, store)
        self._begin_watching(_("Starting the trainer..."))

    def _begin_watching(self, text: str) -> None:
        self.result = None
        self.decision.hide()
        self.progress.restart(text)
        self._started_at = time.monotonic()
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.compare_button.setEnabled(False)
        for event in self.proc.events:  # re-attached: replay what happened so far
            self._handle(event)
        self._timer.start()

    def stop(self) -> None:
        """Clean stop off the GUI thread (STOP file, then SIGTERM; the best epoch is kept)."""
        if self.proc is not None:
            proc = self.proc
            run_in_pool(proc.stop, lambda _r: None, self._plan_failed)
            self.stop_button.setEnabled(False)
            self.status.setText(
                _("Stopping after the current step; the best model so far is kept...")
            )

    def _poll(self) -> None:
        if self.proc is None:
            return
        for event in self.proc.poll():
            self._handle(event)
        self.progress.tick()  # elapsed keeps counting between events
        if not self.proc.running:
            self._timer.stop()
            self._finished(self.proc.result())

    def _finished(self, result: backend.TrainingResult | None) -> None:
        self.result = result
        self.stop_button.setEnabled(False)
        self.start_button.setEnabled(bool(self.plan and self.plan.can_start))
        self.progress.finish(complete=backend.model_file(result) is not None)
        if backend.model_file(result) is None:
            why = result.message if result else _("the trainer ended without a result")
            self.status.setText(_("No new model: {why}").format(why=why))
            return
        self.show_decision(result.promotion)
        self.status.setText(finished_text(result.status, result.model_version))
        self.compare_button.setEnabled(True)
        self.finished_run.emit(self.proc.run_dir)
        self.open_comparison()

    def show_decision(self, promotion: dict[str, Any] | None) -> None:
        """The trainer's promotion decision in plain words (Details collapsed)."""
        self.decision.show_decision(promotion)
        self.decision.setVisible(bool(promotion))

    def open_comparison(self) -> None:
        if self.proc is None:
            return
        self.compare = CompareView(self.active, self.proc.run_dir, parent=self, admin=self.admin)
        self.compare.decided.connect(lambda _d: self.compare_button.setEnabled(False))
        self.compare.show()

    def _try_attach(self) -> None:
        run_dir = backend.latest_run(self.run_root)
        if run_dir is None or (run_dir / "DECIDED").exists() or (run_dir / "DISCARDED").exists():
            return
        self.proc = backend.attach(run_dir)
        if self.proc.running:
            self._begin_watching(_("Re-attached to the run in {folder}").format(folder=run_dir))
        else:
            for event in self.proc.events:
                self._handle(event)
            self._finished_quietly(self.proc.result())

    def _finished_quietly(self, result: backend.TrainingResult | None) -> None:
        self.result = result
        model = backend.model_file(result)
        if result is not None and model is not None and model.is_file():
            self.show_decision(result.promotion)
            self.status.setText(
                _("A finished run awaits a decision: {version}.").format(
                    version=result.model_version
                )
            )
            self.compare_button.setEnabled(True)

    # --- closing ------------------------------------------------------------------------------

    def ask_close(self) -> str:
        """Stop the run, or let it finish in the background? (tests replace this)"""
        return ask_stop_or_keep(self)

    def stop_now(self) -> None:
        """Stop the run and wait for it (the app is closing and the clinician chose Stop)."""
        if self.proc is not None:
            self.proc.stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.is_running:
            choice = self.ask_close()
            if choice == CANCEL:
                event.ignore()
                return
            if choice == STOP:
                backend.request_stop(self.proc)
        self._timer.stop()
        event.accept()


def scroll_area(*widgets: QWidget) -> QScrollArea:
    """``widgets`` one above the other in a frameless, vertically scrolling area."""
    top = QWidget()
    lay = QVBoxLayout(top)
    lay.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        lay.addWidget(widget)
    lay.addStretch(1)
    area = QScrollArea()
    area.setWidget(top)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumHeight(min(TOP_MIN_HEIGHT, top.sizeHint().height()))
    return area


def reveal_when_opened(area: QScrollArea, toggle: QCheckBox, widget: QWidget) -> None:
    """Scroll ``area`` to ``widget`` when ``toggle`` shows it (once laid out)."""
    toggle.toggled.connect(
        lambda on: on and QTimer.singleShot(0, lambda: area.ensureWidgetVisible(widget))
    )


def fitting_height(widget: QWidget, wanted: int = 900, margin: int = 80) -> int:
    """``wanted`` pixels high, or less on a small screen (taskbar and title bar left free)."""
    screen = widget.screen() or QApplication.primaryScreen()
    if screen is None:
        return min(wanted, 680)
    return max(480, min(wanted, screen.availableGeometry().height() - margin))


def ask_stop_or_keep(parent: QWidget) -> str:
    """STOP, BACKGROUND or CANCEL: what to do with a run that is still going."""
    box = QMessageBox(parent)
    box.setWindowTitle(_("Training is running"))
    box.setText(_("A fine-tuning run is still going. Stop it, or let it finish in the background?"))
    box.setInformativeText(
        _("A run left in the background is picked up the next time you open this dialog.")
    )
    stop = box.addButton(_("Stop training"), QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton(_("Keep training in background"), QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    clicked = box.clickedButton()
    return STOP if clicked is stop else BACKGROUND if clicked is keep else CANCEL
