"""The note saved with the next label; Esc (or Enter) hands the keys back to the photo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLineEdit, QWidget

from desktop.services.i18n import _


class NoteField(QLineEdit):
    """A one-line note; single-key shortcuts are off while it has focus."""

    def __init__(self, keys_to: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(_("Note, saved with the next label (Esc: back to the keys)"))
        self.setToolTip(
            _(
                "Free-text note saved with the next label; single-key shortcuts "
                "are off while you type here (Esc leaves the field)"
            )
        )
        self.setClearButtonEnabled(True)
        leave = QAction(_("Leave the note field"), self)
        leave.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        leave.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        leave.triggered.connect(lambda: keys_to.setFocus(Qt.FocusReason.ShortcutFocusReason))
        self.addAction(leave)
        self.returnPressed.connect(keys_to.setFocus)
