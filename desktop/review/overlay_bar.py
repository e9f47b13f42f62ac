"""The row under the photo: Grad-CAM on/off (and its colour legend, drawn on the photo), its
opacity, fit, 100% and the zoom shown."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from desktop.review.heat_legend import HeatLegend
from desktop.review.image_view import ImageView
from desktop.services.i18n import _, format_percent


class OverlayBar(QWidget):
    """Controls of the overlay and zoom of one ImageView."""

    def __init__(self, view: ImageView, opacity: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.overlay_box = QCheckBox("Grad-CAM", self)
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip(_("Show where the model looked (Grad-CAM heatmap) (G)"))
        self.overlay_box.toggled.connect(view.set_overlay_visible)
        self.legend = HeatLegend(view)  # in the photo view's corner, on the overlay
        self.overlay_box.toggled.connect(self._show_legend)
        view.heatChanged.connect(self._show_legend)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(opacity * 100))
        self.opacity.setToolTip(_("Heatmap opacity"))
        self.opacity.setAccessibleName(_("Heatmap opacity"))
        self.opacity.valueChanged.connect(self._on_opacity)
        self.opacity_value = QLabel(format_percent(self.opacity.value() / 100), self)
        self.fit_button = self._tool_button(_("Fit"), _("Fit the photo to the view (F)"), view.fit)
        self.actual_button = self._tool_button(
            format_percent(1), _("Actual pixels (0)"), view.actual_size
        )
        self.zoom_label = QLabel(self)
        view.zoomChanged.connect(lambda s: self.zoom_label.setText(format_percent(s)))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.overlay_box, self.opacity, self.opacity_value, self.fit_button,
                       self.actual_button, self.zoom_label):  # fmt: skip
            row.addWidget(widget)
        row.setStretch(1, 1)
        self._show_legend()

    def _show_legend(self, *_args: object) -> None:
        """The legend explains a heatmap on show: none without one, or with the overlay off."""
        self.legend.setVisible(self.overlay_box.isChecked() and self.view.has_heat())

    def _tool_button(self, text: str, tip: str, slot: Callable[[], object]) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(format_percent(value / 100))
        self.view.set_opacity(value / 100.0)

    def set_opacity(self, opacity: float) -> None:
        """The overlay opacity in [0, 1]; recomposites only."""
        self.opacity.setValue(round(min(1.0, max(0.0, opacity)) * 100))
