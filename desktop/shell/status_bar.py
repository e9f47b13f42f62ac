"""The status bar (model, device and why, counts, and a permanent mark while the model in use
was forced, is untrained or has no out-of-scope guard) and the banner for an untrained model."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QHBoxLayout, QLabel, QStatusBar, QWidget

from desktop.services.i18n import N_, _, format_number
from desktop.services.model import ActiveModelHandle, Mark
from desktop.services.store import Stats

UNTRAINED_TEXT = N_(
    "UNTRAINED MODEL: the results come from an ImageNet backbone with a random head and are "
    "NOT a diagnosis. Install or train a model before relying on them."
)
MARK_STYLE = (
    "QLabel { background: #FFF3CD; color: #7A2E00; border: 1px solid #B35900; "
    "border-radius: 3px; padding: 1px 6px; font-weight: bold; }"
)


class StatusBar(QStatusBar):
    """Always shows: active model version (trained or not), device and why, and the counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mark_label = QLabel()
        self.mark_label.setObjectName("model_mark")
        self.mark_label.setStyleSheet(MARK_STYLE)
        self.mark_label.hide()
        self.model_label = QLabel(_("model: loading..."))
        self.device_label = QLabel(_("device: -"))
        self.counts_label = QLabel()
        self.who_label = QLabel()
        self.who_label.setObjectName("who_label")
        for w in (
            self.mark_label, self.model_label, self.device_label, self.counts_label,
            self.who_label,
        ):  # fmt: skip
            w.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(w)
        self.set_counts(Stats())

    def set_model(self, handle: ActiveModelHandle) -> None:
        trained = _("trained") if handle.trained else _("UNTRAINED")
        self.model_label.setText(
            _("Model {name} ({trained})").format(name=handle.name, trained=trained)
        )
        self.model_label.setToolTip(
            _("{version}, loaded in {seconds} s").format(
                version=handle.version, seconds=format_number(handle.loaded_s, 1)
            )
        )
        self.device_label.setText(handle.device_text)
        self.device_label.setToolTip(_("Device: {device}").format(device=handle.device))
        self.set_marks(handle.marks)

    def set_marks(self, marks: list[Mark]) -> None:
        """Show the mark while the model in use was forced, is untrained or lacks the guard."""
        words = ", ".join(m.word for m in marks)
        self.mark_label.setText("\u26a0 " + _("Model: {marks}").format(marks=words))
        self.mark_label.setMinimumWidth(self.mark_label.sizeHint().width())  # never clipped
        self.mark_label.setVisible(bool(marks))
        self.mark_label.setToolTip(
            "<b>"
            + _("The model in use is marked:")
            + "</b><ul>"
            + "".join(f"<li><b>{m.word}</b>: {html.escape(m.why)}</li>" for m in marks)
            + "</ul>"
            + _("Activate or roll back to another model in Models to clear the mark.")
        )

    def set_model_error(self, reason: str) -> None:
        self.model_label.setText(_("model: could not be loaded"))
        self.model_label.setToolTip(reason)

    def set_who(self, clinician: str, clinic: str) -> None:
        """Who the labels given here are recorded for (changed in Settings)."""
        self.who_label.setText(f"{clinician} · {clinic}" if clinic else clinician)
        self.who_label.setToolTip(
            _("Recorded with every label, note and decision; change it in Settings")
        )

    def set_counts(self, s: Stats) -> None:
        self.counts_label.setText(
            _("{screened} screened · {reviewed} reviewed · {to_review} to review").format(
                screened=format_number(s.screened),
                reviewed=format_number(s.reviewed),
                to_review=format_number(s.to_review),
            )
        )


class UntrainedBanner(QWidget):
    """A persistent, unmissable warning while the active model is untrained."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("untrained_banner")
        self.setAutoFillBackground(True)
        self.setStyleSheet(
            "#untrained_banner { background: #FFF3CD; border-bottom: 2px solid #B35900; }"
            "#untrained_banner QLabel { color: #5A2D00; }"
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel("⚠  <b>" + _(UNTRAINED_TEXT) + "</b>")
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.hide()
