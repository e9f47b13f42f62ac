"""The models view: every registered version, which one is active, how often clinicians agreed
with its predictions; activate, roll back, import, export, model card, evaluate on a folder.

Every store call and file operation runs on the thread pool; "Evaluate on a folder" runs
``python -m trainer evaluate`` as a child process and shows the plots it saves next to its report.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.services import model_checks
from desktop.services import versions as ops
from desktop.services.active_model import ActiveModel
from desktop.services.i18n import N_, _, format_datetime, format_number, format_percent
from desktop.services.store import ModelInfo
from desktop.services.tasks import run_in_pool
from desktop.services.vocabulary import long_name
from desktop.shell.file_dialogs import choose_folder, open_file, save_file
from desktop.shell.role_gate import NEEDS_ADMIN
from desktop.versions.activation import ActivationQuestions, history_html

T = TypeVar("T")

COLUMNS = [
    "",
    N_("Name"),
    N_("Version"),
    N_("Created"),
    N_("Parent"),
    N_("Training data"),
    N_("Val. macro-F1"),
    N_("Val. acc."),
]
PLOTS = ("confusion_matrix", "roc", "pr", "reliability")


def _data_summary(meta: dict[str, Any]) -> str:
    counts = (meta.get("training") or {}).get("split_counts") or {}
    train = counts.get("train") or {}
    if not train:
        return _("not recorded") if meta.get("trained") else _("not trained")
    return _("{n} train images, {classes} classes").format(
        n=sum(train.values()), classes=len(train)
    )


def _eval_summary(folder: Path) -> str:
    """One line from an evaluation's report.json (empty when it cannot be read)."""
    try:
        m = json.loads((folder / "report.json").read_text(encoding="utf-8"))["metrics"]
        return _("{n} images: accuracy {accuracy}, macro-F1 {f1}, ECE {ece}.").format(
            n=m["n"],
            accuracy=format_number(m["accuracy"], 3),
            f1=format_number(m["macro_f1"], 3),
            ece=format_number(m["ece"], 3),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _metric(metrics: dict[str, Any], key: str) -> str:
    value = (metrics.get("val") or {}).get(key)
    return format_number(value, 3) if isinstance(value, (int, float)) else "-"


class ModelsDialog(ActivationQuestions, QDialog):
    """The registry as a table, with the agreement of clinicians and model operations."""

    def __init__(
        self, active: ActiveModel, parent: QWidget | None = None, admin: bool = True
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Models"))
        self.active = active
        self.admin = admin  # False: a clinician on a shared store (activate, roll back refused)
        self.models: list[ModelInfo] = []
        self.eval_proc: subprocess.Popen[bytes] | None = None
        self.eval_dir: Path | None = None
        self._agree_gen = 0
        self._eval_timer = QTimer(self, interval=500, timeout=self._poll_evaluation)
        layout = QVBoxLayout(self)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self._build_table())
        split.addWidget(self._build_details())
        layout.addWidget(split, stretch=1)
        layout.addLayout(self._build_buttons())
        self.message = QLabel(wordWrap=True)
        layout.addWidget(self.message)
        self.resize(1100, 760)
        self.reload()
        active.changed.connect(self._on_active_changed)

    # --- layout -----------------------------------------------------------------------------

    def _build_table(self) -> QTableWidget:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([_(c) if c else "" for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.horizontalHeader().setStretchLastSection(True)
        return self.table

    def _build_details(self) -> QWidget:
        widget = QWidget()
        row = QHBoxLayout(widget)
        agree_box = QGroupBox(_("Clinicians' agreement with this version's predictions"))
        self.agreement = QTableWidget(0, 4)
        self.agreement.setHorizontalHeaderLabels(
            [_("Clinician's label"), _("Agreed"), _("Disagreed"), _("Rate")]
        )
        self.agreement.verticalHeader().setVisible(False)
        self.agreement.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        QVBoxLayout(agree_box).addWidget(self.agreement)
        eval_box = QGroupBox(_("Evaluation on a folder"))
        grid = QGridLayout(eval_box)
        self.eval_status = QLabel(
            _("Choose \u201cEvaluate on a folder...\u201d (one sub-folder per class).")
        )
        self.eval_status.setWordWrap(True)
        grid.addWidget(self.eval_status, 0, 0, 1, 4)
        self.plots: dict[str, QLabel] = {}
        for i, name in enumerate(PLOTS):
            label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(180, 150)
            self.plots[name] = label
            grid.addWidget(label, 1, i)
        history_box = QGroupBox(_("Activations of this version"))
        self.history = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignTop)
        self.history.setTextFormat(Qt.TextFormat.RichText)
        QVBoxLayout(history_box).addWidget(self.history)
        row.addWidget(agree_box, stretch=1)
        row.addWidget(history_box, stretch=1)
        row.addWidget(eval_box, stretch=2)
        return widget

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, slot in (
            ("activate", N_("Activate"), self.activate_selected),
            ("rollback", N_("Roll back"), self.roll_back),
            ("import", N_("Import model file..."), self._import_clicked),
            ("export", N_("Export active model..."), self._export_clicked),
            ("card", N_("Model card"), self.show_card),
            ("evaluate", N_("Evaluate on a folder..."), self._evaluate_clicked),
        ):
            button = QPushButton(_(text))
            button.clicked.connect(slot)
            self.buttons[key] = button
            if key in ("activate", "rollback") and not self.admin:
                button.setToolTip(_(NEEDS_ADMIN))
            row.addWidget(button)
        row.addStretch(1)
        close = QPushButton(_("Close"))
        close.clicked.connect(self.close)
        row.addWidget(close)
        return row

    # --- the table ----------------------------------------------------------------------------

    def reload(self) -> None:
        store = self.active.store
        run_in_pool(lambda: ops.models(store), self._show_models, self._failed)

    def _on_active_changed(self, _info: ModelInfo) -> None:
        if shiboken6.isValid(self.table):
            self.reload()

    def _show_models(self, models: list[ModelInfo]) -> None:
        self.models = models
        by_hash = {m.content_hash: m for m in self.models}
        self.table.setRowCount(len(self.models))
        for row, m in enumerate(self.models):
            parent = by_hash.get(m.parent_hash or "")
            values = [
                "\u25cf " + _("active") if m.active else "",
                m.name,
                m.content_hash[:12],
                format_datetime(m.created_at.astimezone()),
                parent.version if parent else (m.parent_hash or "")[:12],
                _data_summary(m.meta),
                _metric(m.metrics, "macro_f1"),
                _metric(m.metrics, "accuracy"),
            ]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if m.active:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        if self.models and not self.table.selectedItems():
            self.table.selectRow(0)
        self._selected()  # the same row may stay selected: refresh its buttons and agreement
        can_roll = any(m.active and m.parent_hash for m in self.models)
        self.buttons["rollback"].setEnabled(can_roll and self.admin)

    def selected(self) -> ModelInfo | None:
        rows = {i.row() for i in self.table.selectedItems()}
        return self.models[rows.pop()] if rows and self.models else None

    def _selected(self) -> None:
        model = self.selected()
        if model is None:
            return
        self.buttons["activate"].setEnabled(not model.active and self.admin)
        self.history.setText(history_html(model_checks.activation_history(model)))
        store, version = self.active.store, model.version
        self._agree_gen += 1
        gen = self._agree_gen  # an answer for a row no longer selected is dropped
        run_in_pool(
            lambda: ops.agreement(store, version),
            lambda counts: self._show_agreement(counts) if gen == self._agree_gen else None,
            self._failed,
        )

    def _show_agreement(self, counts: dict[str, tuple[int, int]]) -> None:
        if not shiboken6.isValid(self.agreement):  # the dialog closed before the answer came
            return
        self.agreement.setRowCount(len(counts))
        self.agreement.setToolTip(
            "" if counts else _("No clinician has labelled an image this version predicted yet.")
        )
        for row, (name, (agreed, disagreed)) in enumerate(counts.items()):
            total = agreed + disagreed
            rate = format_percent(agreed / total) if total else "-"
            for col, value in enumerate([long_name(name), str(agreed), str(disagreed), rate]):
                self.agreement.setItem(row, col, QTableWidgetItem(value))
        self.agreement.resizeColumnsToContents()

    # --- operations ---------------------------------------------------------------------------

    def _run(self, fn: Callable[[], T], done_text: Callable[[T], str]) -> None:
        def done(result: T) -> None:
            self.say(done_text(result))
            self.reload()

        run_in_pool(fn, done, self._failed)

    def import_file(self, path: Path) -> None:
        store = self.active.store
        self._run(
            lambda: ops.import_model(store, Path(path)),
            lambda i: _("Imported {version} (not active; select it and press Activate)").format(
                version=i.version
            ),
        )

    def export_active(self, dest: Path) -> None:
        active = next((m for m in self.models if m.active), None)
        if active is None:
            self.say(_("No active model to export."), error=True)
            return
        self._run(
            lambda: ops.export_model(active, Path(dest)),
            lambda p: _("Exported to {path}").format(path=p),
        )

    def show_card(self) -> None:
        model = self.selected()
        if model is None:
            return
        view = QDialog(self)
        view.setWindowTitle(_("Model card: {version}").format(version=model.version))
        text = QTextBrowser()
        text.setMarkdown(ops.model_card(model))
        QVBoxLayout(view).addWidget(text)
        view.resize(620, 520)
        view.show()
        self.card = view

    def say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #B00020;" if error else "")
        self.message.setText(text)

    def _failed(self, exc: BaseException) -> None:
        self.say(_("Not done: {error}").format(error=exc), error=True)

    def _import_clicked(self) -> None:
        path = open_file(self, "model", _("Import a model file"), _("Models (*.safetensors)"))
        if path:
            self.import_file(Path(path))

    def _export_clicked(self) -> None:
        path = save_file(self, "model", _("Export the active model"), "model.safetensors")
        if path:
            self.export_active(Path(path))

    def _evaluate_clicked(self) -> None:
        folder = choose_folder(self, "class_folders", _("Folder with one sub-folder per class"))
        if folder:
            self.evaluate(Path(folder))

    # --- evaluation ---------------------------------------------------------------------------

    def evaluate(self, folder: Path, out_root: Path | None = None) -> None:
        """Evaluate the selected model on ``folder`` in a child process."""
        model = self.selected()
        if model is None or not model.path or not Path(model.path).is_file():
            self.say(_("The selected model's file is not on this computer."), error=True)
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = out_root or ops.evaluation_root()
        self.eval_dir = root / f"{model.name}-{model.content_hash[:12]}-{stamp}"
        self.eval_proc = ops.start_evaluation(Path(model.path), folder, self.eval_dir)
        self.eval_status.setText(
            _("Evaluating {version} on {folder}...").format(version=model.version, folder=folder)
        )
        self.buttons["evaluate"].setEnabled(False)
        self._eval_timer.start()

    def _poll_evaluation(self) -> None:
        if self.eval_proc is None or self.eval_proc.poll() is None:
            return
        self._eval_timer.stop()
        self.buttons["evaluate"].setEnabled(True)
        code, self.eval_proc = self.eval_proc.returncode, None
        assert self.eval_dir is not None
        if code != 0:
            log = (self.eval_dir / "evaluate.log").read_text(errors="replace").strip()
            self.eval_status.setText(
                _("Evaluation failed: {why}").format(why=log.splitlines()[-1] if log else code)
            )
            return
        self.eval_status.setText(
            _("{summary} Report and plots saved in {folder}").format(
                summary=_eval_summary(self.eval_dir), folder=self.eval_dir
            )
        )
        for name, label in self.plots.items():
            png = self.eval_dir / f"eval_{name}.png"
            if png.is_file():
                label.setPixmap(
                    QPixmap(str(png)).scaled(
                        240, 200, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )  # fmt: skip
