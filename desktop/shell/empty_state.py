"""What an empty case store shows instead of an empty grid: one clear call to action."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.services.i18n import _


class EmptyState(QWidget):
    screenRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        title = QLabel(_("No photos screened yet"))
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(_("Screen a folder..."))
        self.button.setObjectName("screen_folder_cta")
        bfont = QFont(self.button.font())
        bfont.setPointSizeF(bfont.pointSizeF() * 1.4)
        self.button.setFont(bfont)
        self.button.setMinimumSize(280, 64)
        self.button.setToolTip(_("Choose a folder of photos to screen (Ctrl+O)"))
        self.button.clicked.connect(self.screenRequested)
        hint = QLabel(_("or drop a folder here"))
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        note = QLabel(
            _(
                "PoxScreen sorts skin photos into Mpox, Chickenpox, Measles or Normal and shows"
                " why.\nIt is a screening aid, not a diagnosis. Photos never leave this computer."
            )
        )
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        note.setWordWrap(True)
        lay.addWidget(title)
        lay.addSpacing(16)
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(hint)
        lay.addSpacing(24)
        lay.addWidget(note)
        lay.addStretch(3)


def dropped_folder(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The first local folder in a drag, if any."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
            return url.toLocalFile()
    return None
