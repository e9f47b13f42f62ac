"""The Grad-CAM colour legend beside the overlay: "low", the colour map in use, "high".

The ramp itself comes from the services (the engine colours it exactly as it colours the
heatmap), so the legend always matches the overlay, whichever colour map Settings chose.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

LOW_TEXT = "low"
HIGH_TEXT = "high"
TOOLTIP_TEXT = (
    "Grad-CAM colours ({colormap}): from low to high importance of a region for the class"
)


class _Ramp(QWidget):
    """The colour ramp, stretched to the widget (a grey outline keeps it visible on any theme)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.setMinimumSize(60, 10)

    def sizeHint(self) -> QSize:
        return QSize(90, 12)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        if not self.image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(rect, self.image)
        painter.setPen(QColor("#808080"))
        painter.drawRect(rect)
        painter.end()


class HeatLegend(QWidget):
    """ "low [ramp] high" for the colour map on show (``set_ramp``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low = QLabel(LOW_TEXT, self)
        self.high = QLabel(HIGH_TEXT, self)
        self.ramp = _Ramp(self)
        self.colormap = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.low)
        row.addWidget(self.ramp, 1, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.high)
        self.setAccessibleName("Grad-CAM colour legend")

    def set_ramp(self, colormap: str, ramp: QImage) -> None:
        """Show ``ramp`` (low on the left), the colours of ``colormap``."""
        self.colormap = colormap
        self.ramp.image = ramp
        self.setToolTip(TOOLTIP_TEXT.format(colormap=colormap))
        self.ramp.update()

    def ramp_image(self) -> QImage:
        return self.ramp.image
