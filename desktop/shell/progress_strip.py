"""The strip under the toolbar while a screening runs: bar, n / total, images/s, time left, Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from desktop.services.i18n import _, format_number, ngettext
from desktop.services.screening import ProgressView, ScreeningSummary


def finished_message(summary: ScreeningSummary) -> str:
    """The status bar's line when a screening ends."""
    text = (
        _("Screening cancelled: {new} new, {skipped} already screened, {errors} unreadable")
        if summary.cancelled
        else _("Screening finished: {new} new, {skipped} already screened, {errors} unreadable")
    )
    return text.format(
        new=format_number(summary.predicted),
        skipped=format_number(summary.skipped),
        errors=format_number(len(summary.errors)),
    )


def stopped_message(folder: str) -> str:
    """What the error dialog says when a screening stopped on an error."""
    return _("Screening of {folder} stopped").format(folder=folder)


def format_eta(seconds: float | None) -> str:
    """ "about 2 min 5 s left"; "" when unknown."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return _("about {s} s left").format(s=s)
    m, s = divmod(s, 60)
    if m < 60:
        return _("about {m} min {s:02d} s left").format(m=m, s=s)
    h, m = divmod(m, 60)
    return _("about {h} h {m:02d} min left").format(h=h, m=m)


class ProgressStrip(QWidget):
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        self.title = QLabel(_("Screening"))
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName(_("Screening progress"))
        self.count = QLabel()
        self.rate = QLabel()
        self.eta = QLabel()
        self.cancel = QPushButton(_("Cancel"))
        self.cancel.setToolTip(
            _("Stop after the current batch; what was screened is kept (Ctrl+.)")
        )
        self.cancel.clicked.connect(self._on_cancel)
        for w in (self.title, self.bar, self.count, self.rate, self.eta, self.cancel):
            lay.addWidget(w)
        lay.setStretch(1, 1)
        self.hide()

    def start(self, folder: str) -> None:
        self.title.setText(_("Screening <b>{folder}</b>").format(folder=folder))
        self.title.setToolTip(folder)
        self.bar.setRange(0, 0)  # busy until the folder walk gives a total
        self.count.setText(_("finding images..."))
        self.rate.clear()
        self.eta.clear()
        self.cancel.setEnabled(True)
        self.cancel.setText(_("Cancel"))
        self.show()

    def update_progress(self, v: ProgressView) -> None:
        if v.phase == "walking" or v.total <= 0:
            self.bar.setRange(0, 0)
            self.count.setText(
                ngettext("found {n} image...", "found {n} images...", v.total).format(
                    n=format_number(v.total)
                )
            )
            return
        self.bar.setRange(0, v.total)
        self.bar.setValue(v.done)
        extra = []
        if v.skipped:
            extra.append(_("{n} already screened").format(n=format_number(v.skipped)))
        if v.errors:
            extra.append(_("{n} unreadable").format(n=format_number(v.errors)))
        tail = f" ({', '.join(extra)})" if extra else ""
        self.count.setText(f"{format_number(v.done)} / {format_number(v.total)}{tail}")
        rate = format_number(v.rate, 1)
        self.rate.setText(_("{rate} images/s").format(rate=rate) if v.rate > 0 else "")
        self.eta.setText(format_eta(v.eta_s))

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText(_("Cancelling..."))
        self.cancelRequested.emit()

    def finish(self) -> None:
        self.hide()
