"""The class probabilities as horizontal bars: class name, bar in the class colour, value.

Painted by hand (a few rectangles and text) rather than with QtCharts: QtCharts needs the
PySide6-Addons wheel (~200 MB) for four bars. Colour is never the only cue: every bar carries its
class name and number, and the top class is bold. Clicking a bar asks for the Grad-CAM of that
class (``classClicked``); the class the heatmap explains is outlined.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.services.i18n import _, format_number
from desktop.services.vocabulary import class_colour, short_name

ROW_GAP = 4


class ProbChart(QWidget):
    """Bars for a ``{class: probability}`` mapping, in the given order."""

    classClicked = Signal(str)  # the class whose bar was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._probs: list[tuple[str, float]] = []
        self._caption = ""
        self._explained: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(
            _(
                "Calibrated class probabilities of the screening model."
                " Click a class to see where the model looked for it."
            )
        )
        self.setAccessibleName(_("Class probabilities"))

    def set_probabilities(self, probs: dict[str, float] | None, caption: str = "") -> None:
        """Show ``probs`` (``None`` or empty clears the chart); ``caption`` names the model."""
        self._probs = [(str(k), float(v)) for k, v in (probs or {}).items()]
        self._caption = caption
        text = "; ".join(f"{short_name(k)} {format_number(v, 2)}" for k, v in self._probs)
        self.setAccessibleDescription(text)
        self.updateGeometry()
        self.update()

    def probabilities(self) -> dict[str, float]:
        return dict(self._probs)

    def set_explained(self, name: str | None) -> None:
        """Outline the bar of the class the Grad-CAM on show explains (None: no outline)."""
        self._explained = name
        self.update()

    def explained(self) -> str | None:
        return self._explained

    def class_at(self, y: float) -> str | None:
        """The class whose row is at height ``y`` (None below the bars)."""
        row = int((y - ROW_GAP // 2) // self._row_height())
        return self._probs[row][0] if 0 <= row < len(self._probs) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        name = self.class_at(event.position().y())
        if name is not None and event.button() == Qt.MouseButton.LeftButton:
            self.classClicked.emit(name)
            event.accept()
            return
        super().mousePressEvent(event)

    def _row_height(self) -> int:
        return self.fontMetrics().height() + ROW_GAP

    def sizeHint(self) -> QSize:
        rows = max(len(self._probs), 4) + (1 if self._caption else 0)
        return QSize(260, rows * self._row_height() + ROW_GAP)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def _label_width(self) -> int:
        """Wide enough for every name in bold (the top class is drawn bold)."""
        fm = QFontMetrics(self._font(bold=True))
        names = [short_name(k) for k, _v in self._probs] or [short_name("Chickenpox")]
        return max(fm.horizontalAdvance(n) for n in names) + 8

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        row, label_w = self._row_height(), self._label_width()
        value_w = fm.horizontalAdvance("0.00") + 8
        bar_w = max(10, self.width() - label_w - value_w)
        top = max(self._probs, key=lambda kv: kv[1])[0] if self._probs else None
        text_colour = self.palette().windowText().color()
        for i, (name, p) in enumerate(self._probs):
            y = i * row + ROW_GAP // 2
            painter.setFont(self._font(bold=name == top))
            painter.setPen(text_colour)
            painter.drawText(QRectF(0, y, label_w, row), _LEFT, short_name(name))
            track = QRectF(label_w, y + 3, bar_w, row - 6)
            painter.fillRect(track, _track_colour(text_colour))
            painter.fillRect(
                QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, p)), track.height()),
                QColor(class_colour(name)),
            )
            painter.drawText(QRectF(label_w + bar_w, y, value_w, row), _RIGHT, format_number(p, 2))
            if name == self._explained:
                painter.setPen(QPen(text_colour, 1.5))
                painter.drawRect(QRectF(1, y + 1, self.width() - 2, row - 2))
        if self._caption:
            painter.setFont(self._font(bold=False))
            y = len(self._probs) * row + ROW_GAP // 2
            painter.drawText(QRectF(0, y, self.width(), row), _LEFT, self._caption)
        painter.end()

    def _font(self, bold: bool) -> QFont:
        font = QFont(self.font())
        font.setBold(bold)
        return font


_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _track_colour(text: QColor) -> QColor:
    """A faint track behind each bar, visible on light and dark themes."""
    track = QColor(text)
    track.setAlpha(40)
    return track
