"""The status bar (model, device and why, counts) and the banner shown for an untrained model."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QStatusBar, QWidget

from desktop.services.model import ActiveModelHandle
from desktop.services.store import Stats

UNTRAINED_TEXT = (
    "UNTRAINED MODEL: the results come from an ImageNet backbone with a random head and are "
    "NOT a diagnosis. Install or train a model before relying on them."
)


class StatusBar(QStatusBar):
    """Always shows: active model version (trained or not), device and why, and the counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_label = QLabel("model: loading...")
        self.device_label = QLabel("device: -")
        self.counts_label = QLabel()
        for w in (self.model_label, self.device_label, self.counts_label):
            w.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(w)
        self.set_counts(Stats())

    def set_model(self, handle: ActiveModelHandle) -> None:
        trained = "trained" if handle.trained else "UNTRAINED"
        self.model_label.setText(f"Model {handle.name} ({trained})")
        self.model_label.setToolTip(f"{handle.version}, loaded in {handle.loaded_s:.1f} s")
        self.device_label.setText(handle.device_text)
        self.device_label.setToolTip(f"Device: {handle.device}")

    def set_model_error(self, reason: str) -> None:
        self.model_label.setText("model: could not be loaded")
        self.model_label.setToolTip(reason)

    def set_counts(self, s: Stats) -> None:
        self.counts_label.setText(
            f"{s.screened} screened · {s.reviewed} reviewed · {s.to_review} to review"
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
        self.label = QLabel(f"⚠  <b>{UNTRAINED_TEXT}</b>")
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.hide()
