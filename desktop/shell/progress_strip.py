"""The strip under the toolbar while a screening runs: bar, n / total, images/s, time left, Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from desktop.services.screening import ProgressView


def format_eta(seconds: float | None) -> str:
    """ "about 2 min 5 s left"; "" when unknown."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"about {s} s left"
    m, s = divmod(s, 60)
    if m < 60:
        return f"about {m} min {s:02d} s left"
    h, m = divmod(m, 60)
    return f"about {h} h {m:02d} min left"


class ProgressStrip(QWidget):
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        self.title = QLabel("Screening")
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("Screening progress")
        self.count = QLabel()
        self.rate = QLabel()
        self.eta = QLabel()
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop after the current batch; what was screened is kept (Ctrl+.)")
        self.cancel.clicked.connect(self._on_cancel)
        for w in (self.title, self.bar, self.count, self.rate, self.eta, self.cancel):
            lay.addWidget(w)
        lay.setStretch(1, 1)
        self.hide()

    def start(self, folder: str) -> None:
        self.title.setText(f"Screening <b>{folder}</b>")
        self.title.setToolTip(folder)
        self.bar.setRange(0, 0)  # busy until the folder walk gives a total
        self.count.setText("finding images...")
        self.rate.clear()
        self.eta.clear()
        self.cancel.setEnabled(True)
        self.cancel.setText("Cancel")
        self.show()

    def update_progress(self, v: ProgressView) -> None:
        if v.phase == "walking" or v.total <= 0:
            self.bar.setRange(0, 0)
            self.count.setText(f"found {v.total} images...")
            return
        self.bar.setRange(0, v.total)
        self.bar.setValue(v.done)
        extra = []
        if v.skipped:
            extra.append(f"{v.skipped} already screened")
        if v.errors:
            extra.append(f"{v.errors} unreadable")
        tail = f" ({', '.join(extra)})" if extra else ""
        self.count.setText(f"{v.done} / {v.total}{tail}")
        self.rate.setText(f"{v.rate:.1f} images/s" if v.rate > 0 else "")
        self.eta.setText(format_eta(v.eta_s))

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText("Cancelling...")
        self.cancelRequested.emit()

    def finish(self) -> None:
        self.hide()
