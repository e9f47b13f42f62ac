"""The photo at full quality with zoom (wheel, fit, 100%), pan, and a Grad-CAM layer on top.

The heatmap is its own layer (a pixmap item with an opacity), so the opacity slider and the G key
recomposite on the GPU/raster engine without recomputing Grad-CAM. "100%" means one photo pixel
per device pixel, so a high-DPI screen shows the real pixels too.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from desktop.services.i18n import _

MIN_SCALE = 0.02
MAX_SCALE = 32.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 eighths of a degree)


class ImageView(QGraphicsView):
    """Photo + heat layer; ``zoomChanged`` reports device pixels per photo pixel (1.0 = 100%)."""

    zoomChanged = Signal(float)
    heatChanged = Signal(bool)  # a heat layer is there (True) or was dropped (False)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#202020"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._photo = QGraphicsPixmapItem()
        self._photo.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heat = QGraphicsPixmapItem(self._photo)
        self._heat.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._message = QGraphicsSimpleTextItem()
        self._message.setBrush(QColor("#E0E0E0"))
        for item in (self._photo, self._message):
            self.scene().addItem(item)
        self._fit = True
        self._overlay_on = True
        self._opacity = 0.45
        self._heat.setVisible(False)
        self.show_message(_("No image selected"))

    # --- content -------------------------------------------------------------------------

    def show_message(self, text: str) -> None:
        """Clear the photo and heat layer and show ``text`` (empty state, loading, errors)."""
        self._photo.setPixmap(QPixmap())
        self.clear_heat()
        self._message.setText(text)
        self._message.setFont(self.font())
        self._message.setVisible(True)
        self.scene().setSceneRect(self._message.boundingRect())
        self.resetTransform()

    def set_photo(self, image: QImage) -> None:
        """Show a new photo (fit to the view) and drop any heat layer of the previous one."""
        self._message.setVisible(False)
        self.clear_heat()
        self._photo.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(QRectF(self._photo.pixmap().rect()))
        self.fit()

    def upgrade_photo(self, image: QImage) -> None:
        """Swap in a sharper version of the photo on show, keeping zoom, position and heat."""
        old = self._photo.pixmap()
        if old.isNull() or not image.width():
            self.set_photo(image)
            return
        ratio = image.width() / old.width()
        centre = self.mapToScene(self.viewport().rect().center()) * ratio
        self._photo.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(QRectF(self._photo.pixmap().rect()))
        self._place_heat()
        if self._fit:
            self.fit()
            return
        scale = self.transform().m11() / ratio
        self.setTransform(self.transform().fromScale(scale, scale))
        self.centerOn(centre)
        self.zoomChanged.emit(self.scale_factor())

    def has_photo(self) -> bool:
        return not self._photo.pixmap().isNull()

    def set_heat(self, heat: QImage) -> None:
        """The coloured heatmap for the photo on show, stretched over the whole photo."""
        self._heat.setPixmap(QPixmap.fromImage(heat))
        self._place_heat()
        self._apply_heat()
        self.heatChanged.emit(self.has_heat())

    def _place_heat(self) -> None:
        """Stretch the heat layer over the whole photo (the model saw the whole photo)."""
        photo, heat = self._photo.pixmap(), self._heat.pixmap()
        if not photo.isNull() and heat.width() and heat.height():
            sx, sy = photo.width() / heat.width(), photo.height() / heat.height()
            self._heat.setTransform(self._heat.transform().fromScale(sx, sy))

    def clear_heat(self) -> None:
        self._heat.setPixmap(QPixmap())
        self._heat.setVisible(False)
        self.heatChanged.emit(False)

    def has_heat(self) -> bool:
        return not self._heat.pixmap().isNull()

    def photo_size(self) -> QSize:
        """Pixel size of the photo on show (empty when none)."""
        return self._photo.pixmap().size()

    def photo_image(self) -> QImage:
        """The photo on show (null when none), for tests and screenshots."""
        return self._photo.pixmap().toImage()

    def heat_image(self) -> QImage:
        """The heat layer on show (null when none), for tests and screenshots."""
        return self._heat.pixmap().toImage()

    # --- overlay -------------------------------------------------------------------------

    def set_overlay_visible(self, on: bool) -> None:
        self._overlay_on = bool(on)
        self._apply_heat()

    def overlay_visible(self) -> bool:
        return self._overlay_on

    def set_opacity(self, opacity: float) -> None:
        """Heat layer opacity in [0, 1]; recomposites only."""
        self._opacity = min(1.0, max(0.0, float(opacity)))
        self._apply_heat()

    def opacity(self) -> float:
        return self._opacity

    def _apply_heat(self) -> None:
        self._heat.setOpacity(self._opacity)
        self._heat.setVisible(self._overlay_on and self.has_heat())

    # --- zoom ----------------------------------------------------------------------------

    def scale_factor(self) -> float:
        """Device pixels per photo pixel: 1.0 is 100%."""
        return self.transform().m11() * self.devicePixelRatioF()

    def fit(self) -> None:
        """Whole photo in view; stays fitted as the view is resized until the user zooms."""
        self._fit = True
        if self.has_photo():
            self.fitInView(self._photo, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.scale_factor())

    def actual_size(self) -> None:
        """100%: one photo pixel per device pixel, centred on what was in the middle."""
        self._fit = False
        centre = self.mapToScene(self.viewport().rect().center())
        self._set_scale(1.0 / self.devicePixelRatioF())
        self.centerOn(centre)

    def zoom_by(self, factor: float) -> None:
        self._fit = False
        current = self.transform().m11() or 1.0
        self._set_scale(current * factor)

    def _set_scale(self, scale: float) -> None:
        dpr = self.devicePixelRatioF()
        scale = min(MAX_SCALE / dpr, max(MIN_SCALE / dpr, scale))
        self.setTransform(self.transform().fromScale(scale, scale))
        self.zoomChanged.emit(self.scale_factor())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps or not self.has_photo():
            super().wheelEvent(event)
            return
        self.zoom_by(WHEEL_STEP**steps)
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: ANN001 (Qt event)
        super().resizeEvent(event)
        if self._fit:
            self.fit()
