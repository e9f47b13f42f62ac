"""A question before a risky change of model, where the safe answer is the default: Enter or
Escape cancels, only a deliberate click on the named action goes ahead."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


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
