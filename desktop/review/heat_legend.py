"""The Grad-CAM colour legend on the overlay: "low", the colour map in use, "high".

It sits in the bottom-right corner of the photo view (it follows the view's size), on a dark
plate so it reads on any photo, and takes no room from the controls around the photo.

The ramp itself comes from the services (the engine colours it exactly as it colours the
heatmap), so the legend always matches the overlay, whichever colour map Settings chose.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from desktop.services.i18n import N_, _

LOW_TEXT = N_("low")
HIGH_TEXT = N_("high")
TOOLTIP_TEXT = N_(
    "Grad-CAM colours ({colormap}): from low to high importance of a region for the class"
)


class _Ramp(QWidget):
    """The colour ramp, stretched to the widget (a grey outline keeps it visible on any theme)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.setFixedSize(QSize(72, 12))  # the opacity slider beside it keeps its room

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
    """Low, the ramp, high for the colour map on show (``set_ramp``), in ``parent``'s corner."""

    MARGIN = 6

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "HeatLegend { background-color: rgba(0, 0, 0, 170); border-radius: 3px; }"
            "QLabel { color: white; background: transparent; }"
        )
        self.low = QLabel(_(LOW_TEXT), self)
        self.high = QLabel(_(HIGH_TEXT), self)
        self.ramp = _Ramp(self)
        self.colormap = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.setSpacing(4)
        row.addWidget(self.low)
        row.addWidget(self.ramp, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.high)
        self.setAccessibleName(_("Grad-CAM colour legend"))
        parent.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        """Bottom-right corner of the photo view."""
        self.adjustSize()
        parent = self.parentWidget()
        x = parent.width() - self.width() - self.MARGIN
        y = parent.height() - self.height() - self.MARGIN
        self.move(max(0, x), max(0, y))
        self.raise_()

    def set_ramp(self, colormap: str, ramp: QImage) -> None:
        """Show ``ramp`` (low on the left), the colours of ``colormap``."""
        self.colormap = colormap
        self.ramp.image = ramp
        self.setToolTip(_(TOOLTIP_TEXT).format(colormap=colormap))
        self.ramp.update()

    def ramp_image(self) -> QImage:
        return self.ramp.image
