"""A question before a risky change of model, where the safe answer is the default: Enter or
Escape cancels, only a deliberate click on the named action goes ahead. The stronger form asks
for a reason too (recorded with who and when): the action stays disabled until one is typed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.services.i18n import _


def risky_box(parent: QWidget | None, title: str, text: str, action: str) -> QMessageBox:
    """A warning box with ``action`` and Cancel; Cancel is the default and the escape button."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=parent)
    box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    return box


def ask_risky(parent: QWidget | None, title: str, text: str, action: str) -> bool:
    """Whether the user chose ``action`` (modal; Cancel, Escape or closing the box: no)."""
    box = risky_box(parent, title, text, action)
    box.exec()
    clicked = box.clickedButton()
    return clicked is not None and box.buttonRole(clicked) == QMessageBox.ButtonRole.AcceptRole


class ReasonDialog(QDialog):
    """A warning with the figures, a required reason, ``action`` and Cancel (the default)."""

    def __init__(self, parent: QWidget | None, title: str, text: str, action: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size)
        )
        self.text = QLabel(text, wordWrap=True)
        top = QHBoxLayout()
        top.addWidget(icon, alignment=Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.text, stretch=1)
        self.reason = QPlainTextEdit()
        self.reason.setPlaceholderText(_("Why this model, although its records advise against it"))
        self.reason.setTabChangesFocus(True)
        self.reason.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 16)
        buttons = QDialogButtonBox()
        self.action = QPushButton(action)
        self.action.setAutoDefault(False)
        self.action.setEnabled(False)
        self.cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(
            lambda: self.action.setEnabled(bool(self.reason.toPlainText().strip()))
        )
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(
            QLabel(_("<b>Reason</b> (required; recorded with your name and the time):"))
        )
        layout.addWidget(self.reason)
        layout.addWidget(buttons)
        self.reason.setFocus()

    def answer(self) -> str | None:
        """The reason when the action was chosen, else None."""
        reason = self.reason.toPlainText().strip()
        return reason if self.result() == QDialog.DialogCode.Accepted and reason else None


def ask_reason(parent: QWidget | None, title: str, text: str, action: str) -> str | None:
    """The reason typed when the user chose ``action``; None for Cancel, Escape or closing."""
    dialog = ReasonDialog(parent, title, text, action)
    dialog.exec()
    return dialog.answer()
