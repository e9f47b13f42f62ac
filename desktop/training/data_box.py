"""The fine-tune dialog's "Training data" box (the classes' counts, what is left out, warnings,
the split) and the sentences it shows, in the user's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
)

from desktop.services import training as backend
from desktop.services.i18n import N_, _, format_number
from desktop.services.vocabulary import long_name

if TYPE_CHECKING:
    from desktop.training.finetune_dialog import FinetuneDialog

#: How a run ended (the trainer's status), in words.
ENDINGS = {
    "finished": N_(
        "Training finished: {version}. Compare it with the active model to promote or discard it."
    ),
    "early_stopped": N_(
        "Training stopped early (validation no longer improved): {version}. Compare it with "
        "the active model to promote or discard it."
    ),
    "stopped": N_(
        "Training stopped: {version}. Compare it with the active model to promote or discard it."
    ),
}


def build_data_box(dialog: FinetuneDialog) -> QGroupBox:
    """The box, its widgets set on ``dialog`` (``use_store``, ``folders``, ``counts``...)."""
    box = QGroupBox(_("Training data"))
    grid = QGridLayout(box)
    dialog.use_store = QCheckBox(_("Clinicians' labels in the case store"), checked=True)
    dialog.use_store.toggled.connect(dialog.refresh_plan)
    dialog.lab_only = QCheckBox(_("Only photos of lab-confirmed visits"))
    dialog.lab_only.setToolTip(_("Learn only from photos of visits with a PCR result"))
    dialog.folders = QListWidget()
    dialog.folders.setMaximumHeight(60)
    dialog.folders.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    add, remove = QPushButton(_("Add class folders...")), QPushButton(_("Remove"))
    add.clicked.connect(dialog._add_folder)
    remove.clicked.connect(dialog._remove_folder)
    dialog.counts = counts = QTableWidget(0, 4)
    counts.setHorizontalHeaderLabels([_("Class"), _("Store labels"), _("Folders"), _("Total")])
    counts.verticalHeader().setVisible(False)
    counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    counts.setMaximumHeight(110)
    dialog.excluded = QLabel(wordWrap=True)
    dialog.warnings = QLabel(wordWrap=True)
    dialog.warnings.setStyleSheet("color: #A04000;")
    dialog.split = QLabel(wordWrap=True)
    dialog.class_counts = QLabel(wordWrap=True)
    dialog.class_counts.setToolTip(
        _(
            "Labels per class of the model being fine-tuned. A class short of labels is kept as "
            "the model knew it; with enough, it is learnt from and checked."
        )
    )
    grid.addWidget(dialog.use_store, 0, 0, 1, 2)
    grid.addWidget(QLabel(_("Class folders (FOLDER/<class>/images):")), 1, 0, 1, 2)
    grid.addWidget(dialog.folders, 2, 0, 2, 1)
    grid.addWidget(add, 2, 1)
    grid.addWidget(remove, 3, 1)
    grid.addWidget(counts, 0, 2, 4, 1)
    for row, widget in enumerate(
        (dialog.excluded, dialog.warnings, dialog.split, dialog.class_counts, dialog.lab_only),
        start=4,
    ):
        grid.addWidget(widget, row, 0, 1, 3)
    grid.setColumnStretch(2, 1)
    box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)  # never cut
    return box


def plan_texts(plan: backend.TrainingPlan) -> tuple[str, str, str, str]:
    """The excluded line, the warnings, the split and the lab-only check box's text."""
    excluded = _(
        "Excluded: {refer} labelled \u201crefer / uncertain\u201d, {unreadable} without a "
        "readable image."
    ).format(refer=plan.excluded_refer, unreadable=plan.unreadable)
    warnings = "\n".join(f"\u26a0 {w}" for w in plan.warnings)
    split = _("Split: {split}").format(split=plan.split_text)
    lab_only = _("Only photos of lab-confirmed visits ({n} of the labelled photos)").format(
        n=plan.lab_confirmed
    )
    return excluded, warnings, split, lab_only


def finished_text(status: str, version: str) -> str:
    """The status line once a run has produced a model."""
    words = ENDINGS.get(status)
    if words is None:
        return _("Training {status}: {version}.").format(status=status, version=version)
    return _(words).format(version=version)


def fill_counts(table: QTableWidget, plan: backend.TrainingPlan) -> None:
    """One row per class: store labels, folder images, total."""
    table.setRowCount(len(plan.totals))
    for row, (name, total) in enumerate(plan.totals.items()):
        values = [
            long_name(name),
            *(
                format_number(n)
                for n in (plan.store_counts.get(name, 0), plan.folder_counts.get(name, 0), total)
            ),
        ]
        for col, value in enumerate(values):
            item = QTableWidgetItem(value)
            if col:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, col, item)
    table.resizeColumnsToContents()
