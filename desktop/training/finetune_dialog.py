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

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services import training as backend
from desktop.services.tasks import run_in_pool
from desktop.training.curves import TrainingCurves

POLL_MS = 400
STOP, BACKGROUND, CANCEL = "stop", "background", "cancel"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def db_url(store: Any) -> str:
    """The store's database as a URL the trainer's ``--db`` accepts."""
    return store.engine.url.render_as_string(hide_password=False)


class FinetuneDialog(QDialog):
    """Counts, warnings and split; settings; Start/Stop; live curves; then the comparison."""

    finished_run = Signal(object)  # Path of a run folder that produced a model

    def __init__(
        self, store: Any, parent: QWidget | None = None, run_root: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune the model")
        self.setModal(False)
        self.store = store
        self.run_root = run_root
        self.proc: Any = None
        self.plan: backend.TrainingPlan | None = None
        self.result: backend.TrainingResult | None = None
        self.compare: Any = None
        self._started_at = 0.0
        self._plan_gen = 0  # answers for an older request are dropped
        self._epoch_text = ""
        self._timer = QTimer(self, interval=POLL_MS, timeout=self._poll)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_data())
        layout.addWidget(self._build_settings())
        layout.addWidget(self._build_progress(), stretch=1)
        layout.addLayout(self._build_buttons())
        self.resize(980, 860)
        self.refresh_plan()
        self._try_attach()

    # --- layout -----------------------------------------------------------------------------

    def _build_data(self) -> QGroupBox:
        box = QGroupBox("Training data")
        grid = QGridLayout(box)
        self.use_store = QCheckBox("Clinicians' labels in the case store", checked=True)
        self.use_store.toggled.connect(self.refresh_plan)
        self.folders = QListWidget()
        self.folders.setMaximumHeight(60)
        self.folders.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        add, remove = QPushButton("Add class folders..."), QPushButton("Remove")
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(self._remove_folder)
        self.counts = QTableWidget(0, 4)
        self.counts.setHorizontalHeaderLabels(["Class", "Store labels", "Folders", "Total"])
        self.counts.verticalHeader().setVisible(False)
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.setMaximumHeight(150)
        self.excluded = QLabel()
        self.warnings = QLabel(wordWrap=True)
        self.warnings.setStyleSheet("color: #A04000;")
        self.split = QLabel(wordWrap=True)
        grid.addWidget(self.use_store, 0, 0, 1, 2)
        grid.addWidget(QLabel("Class folders (FOLDER/<class>/images):"), 1, 0, 1, 2)
        grid.addWidget(self.folders, 2, 0, 2, 1)
        grid.addWidget(add, 2, 1)
        grid.addWidget(remove, 3, 1)
        grid.addWidget(self.counts, 0, 2, 4, 1)
        grid.addWidget(self.excluded, 4, 0, 1, 3)
        grid.addWidget(self.warnings, 5, 0, 1, 3)
        grid.addWidget(self.split, 6, 0, 1, 3)
        grid.setColumnStretch(2, 1)
        return box

    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Settings (the recipe's defaults)")
        outer = QVBoxLayout(box)
        main = QHBoxLayout()
        self.epochs = QSpinBox(minimum=1, maximum=500, value=100)
        self.epochs.setToolTip("Upper limit; training stops early when validation stops improving")
        self.freeze = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.45)
        self.freeze.setToolTip("Fraction of the backbone kept frozen")
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-5)
        self.lr.setValue(1e-4)
        self.batch = QSpinBox(minimum=1, maximum=512, value=32)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.augment = QCheckBox("Augmentation", checked=True)
        for label, widget in (("Epochs", self.epochs), ("Frozen", self.freeze),
                              ("Learning rate", self.lr), ("Batch", self.batch),
                              ("Device", self.device)):  # fmt: skip
            main.addWidget(QLabel(label))
            main.addWidget(widget)
        main.addWidget(self.augment)
        main.addStretch(1)
        outer.addLayout(main)
        self.advanced_toggle = QCheckBox("Advanced")
        self.advanced = self._build_advanced()
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self.advanced.setVisible)
        outer.addWidget(self.advanced_toggle)
        outer.addWidget(self.advanced)
        return box

    def _build_advanced(self) -> QWidget:
        widget = QWidget()
        form = QFormLayout(widget)
        self.patience = QSpinBox(minimum=1, maximum=200, value=10)
        self.weight_decay = QDoubleSpinBox(decimals=6, maximum=1.0, singleStep=1e-4, value=0.0)
        self.val_fraction = QDoubleSpinBox(minimum=0.05, maximum=0.5, singleStep=0.05, value=0.15)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.schedule = QComboBox()
        self.schedule.addItems(["constant", "plateau", "cosine"])
        self.balance = QComboBox()
        self.balance.addItems(["sampler", "loss", "none"])
        self.input_size = QSpinBox(minimum=0, maximum=1024, value=0, specialValueText="model's")
        self.threads = QSpinBox(minimum=0, maximum=256, value=0, specialValueText="automatic")
        self.name = QLineEdit(placeholderText="finetune-<date>")
        self.init = QComboBox()
        self.init.addItem("the active model", "auto")
        self.init.addItem("the ImageNet backbone (new head)", "imagenet")
        form.addRow("Early-stopping patience (epochs)", self.patience)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Validation fraction (new split only)", self.val_fraction)
        form.addRow("Seed", self.seed)
        form.addRow("Learning-rate schedule", self.schedule)
        form.addRow("Class balancing", self.balance)
        form.addRow("Input size (pixels)", self.input_size)
        form.addRow("CPU threads", self.threads)
        form.addRow("Model name", self.name)
        form.addRow("Start from", self.init)
        return widget

    def _build_progress(self) -> QGroupBox:
        box = QGroupBox("Progress")
        layout = QVBoxLayout(box)
        self.curves = TrainingCurves()
        self.status = QLabel("Not started.", wordWrap=True)
        self.times = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        layout.addWidget(self.curves, stretch=1)
        row = QHBoxLayout()
        row.addWidget(self.bar, stretch=1)
        row.addWidget(self.times)
        layout.addLayout(row)
        layout.addWidget(self.status)
        return box

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.compare_button = QPushButton("Compare with the active model...")
        close = QPushButton("Close")
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
        folder = QFileDialog.getExistingDirectory(self, "Folder with one sub-folder per class")
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
        store, folders, use = self.store, self.folder_paths(), self.use_store.isChecked()
        run_in_pool(
            lambda: backend.training_plan(store, folders, use),
            lambda plan: self._show_plan(plan) if gen == self._plan_gen else None,
            self._plan_failed,
        )

    def _show_plan(self, plan: backend.TrainingPlan) -> None:
        self.plan = plan
        totals = plan.totals
        self.counts.setRowCount(len(totals))
        for row, (name, total) in enumerate(totals.items()):
            values = [name, plan.store_counts.get(name, 0), plan.folder_counts.get(name, 0), total]
            for col, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if col:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.counts.setItem(row, col, item)
        self.counts.resizeColumnsToContents()
        self.excluded.setText(
            f"Excluded: {plan.excluded_refer} labelled \u201crefer / uncertain\u201d, "
            f"{plan.unreadable} without a readable image."
        )
        self.warnings.setText("\n".join(f"\u26a0 {w}" for w in plan.warnings))
        self.split.setText(f"Split: {plan.split_text}")
        self.start_button.setEnabled(plan.can_start and not self.is_running)

    def _plan_failed(self, exc: BaseException) -> None:
        self.warnings.setText(f"\u26a0 Could not count the training data: {exc}")

    # --- running ------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs.value(),
            "freeze": round(self.freeze.value(), 4),
            "lr": self.lr.value(),
            "batch_size": self.batch.value(),
            "device": self.device.currentText(),
            "augment": self.augment.isChecked(),
            "patience": self.patience.value(),
            "weight_decay": self.weight_decay.value() or None,
            "val_fraction": self.val_fraction.value(),
            "seed": self.seed.value(),
            "schedule": self.schedule.currentText(),
            "balance": self.balance.currentText(),
            "input_size": self.input_size.value() or None,
            "threads": self.threads.value() or None,
            "name": self.name.text().strip() or None,
            "init": self.init.currentData(),
        }

    @property
    def is_running(self) -> bool:
        return self.proc is not None and self.proc.running

    def start(self) -> None:
        args = backend.training_args(
            self.settings(), self.folder_paths(), self.use_store.isChecked()
        )
        run_dir = None
        if self.run_root is not None:
            run_dir = self.run_root / f"gui-{time.strftime('%Y%m%d-%H%M%S')}"
        self.proc = backend.start_training(args, db_url(self.store), run_dir)
        self._begin_watching("Starting the trainer...")

    def _begin_watching(self, text: str) -> None:
        self.result = None
        self._epoch_text = ""
        self.curves.clear()
        self._started_at = time.monotonic()
        self.status.setText(text)
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
            self.status.setText("Stopping after the current step; the best model so far is kept...")

    def _poll(self) -> None:
        if self.proc is None:
            return
        for event in self.proc.poll():
            self._handle(event)
        if not self.proc.running:
            self._timer.stop()
            self._finished(self.proc.result())

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            self.status.setText(
                f"Training on {event.get('n_train')} images, validating on {event.get('n_val')}; "
                f"device {event.get('device')} ({event.get('device_reason', '')})"
            )
            self.bar.setRange(0, 1000 * int(event.get("epochs") or 1))
        elif kind == "stage":
            self.status.setText(str(event.get("message") or event.get("stage")))
        elif kind == "step":
            self._show_step(event)
        elif kind == "epoch":
            self.curves.add_epoch(event)
            self._show_epoch(event)
        elif kind == "stopping":
            self.status.setText(f"Stopping ({event.get('reason')}); keeping the best model...")

    def _show_step(self, event: dict[str, Any]) -> None:
        """Within an epoch (epochs may take minutes on a CPU): step, running loss, time left."""
        epoch, steps = int(event.get("epoch", 0)), int(event.get("steps", 0) or 1)
        done = epoch - 1 + int(event.get("step", 0)) / steps
        self.bar.setRange(0, 1000 * int(event.get("epochs", 0) or 1))
        self.bar.setValue(int(1000 * done))
        self.times.setText(
            f"elapsed {_fmt_duration(event.get('elapsed_s'))} \u00b7 "
            f"left at most {_fmt_duration(event.get('eta_s'))}"
        )
        loss = event.get("loss")
        self.status.setText(
            f"Epoch {epoch}/{event.get('epochs')}, step {event.get('step')}/{steps}"
            + (f", training loss {loss:.3f}" if isinstance(loss, (int, float)) else "")
            + (f". Last epoch: {self._epoch_text}" if self._epoch_text else "")
        )

    def _show_epoch(self, event: dict[str, Any]) -> None:
        epoch, epochs = int(event.get("epoch", 0)), int(event.get("epochs", 0) or 1)
        self.bar.setRange(0, 1000 * epochs)
        self.bar.setValue(1000 * epoch)
        etas = [v for v in (event.get("eta_s"), event.get("eta_patience_s")) if v is not None]
        self.times.setText(
            f"elapsed {_fmt_duration(event.get('elapsed_s'))} \u00b7 "
            f"left at most {_fmt_duration(min(etas) if etas else None)}"
        )
        best = event.get("best_score")
        self._epoch_text = (
            f"validation macro-F1 {event.get('val_macro_f1') or 0:.3f}, "
            f"best {best if best is None else f'{best:.3f}'} (epoch {event.get('best_epoch')})"
        )
        self.status.setText(f"Epoch {epoch}/{epochs}: {self._epoch_text}")

    def _finished(self, result: backend.TrainingResult | None) -> None:
        self.result = result
        self.stop_button.setEnabled(False)
        self.start_button.setEnabled(bool(self.plan and self.plan.can_start))
        if backend.model_file(result) is None:
            why = result.message if result else "the trainer ended without a result"
            self.status.setText(f"No new model: {why}")
            return
        self.bar.setValue(self.bar.maximum())
        self.status.setText(
            f"Training {result.status.replace('_', ' ')}: {result.model_version}. "
            "Compare it with the active model to promote or discard it."
        )
        self.compare_button.setEnabled(True)
        self.finished_run.emit(self.proc.run_dir)
        self.open_comparison()

    def open_comparison(self) -> None:
        from desktop.training.compare_view import CompareView

        if self.proc is None:
            return
        self.compare = CompareView(self.store, self.proc.run_dir, parent=self)
        self.compare.decided.connect(lambda _d: self.compare_button.setEnabled(False))
        self.compare.show()

    def _try_attach(self) -> None:
        run_dir = backend.latest_run(self.run_root)
        if run_dir is None or (run_dir / "DECIDED").exists() or (run_dir / "DISCARDED").exists():
            return
        self.proc = backend.TrainingProcess.attach(run_dir)
        if self.proc.running:
            self._begin_watching(f"Re-attached to the run in {run_dir}")
        else:
            for event in self.proc.events:
                self._handle(event)
            self._finished_quietly(self.proc.result())

    def _finished_quietly(self, result: backend.TrainingResult | None) -> None:
        self.result = result
        model = backend.model_file(result)
        if result is not None and model is not None and model.is_file():
            self.status.setText(f"A finished run awaits a decision: {result.model_version}.")
            self.compare_button.setEnabled(True)

    # --- closing ------------------------------------------------------------------------------

    def ask_close(self) -> str:
        """Stop the run, or let it finish in the background? (tests replace this)"""
        box = QMessageBox(self)
        box.setWindowTitle("Training is running")
        box.setText(
            "A fine-tuning run is still going. Stop it, or let it finish in the background?"
        )
        box.setInformativeText(
            "A run left in the background is picked up the next time you open this dialog."
        )
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep training in background", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return (
            STOP
            if box.clickedButton() is stop
            else BACKGROUND
            if box.clickedButton() is keep
            else CANCEL
        )

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
