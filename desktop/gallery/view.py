"""The virtualised thumbnail grid and its tile painter.

A QListView in icon mode with uniform tile sizes: Qt lays out and paints only the visible tiles,
so 10,000 images scroll like 100. Each tile shows the thumbnail, the predicted class as a coloured
chip WITH its name (never colour alone), the confidence, and marks: ✓ reviewed, ⚑ referral,
! the clinician disagreed with the model, ? out of scope / poor quality. The selected tile gets a
thick outline, not only a colour change.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.gallery.model import GalleryModel
from desktop.services import engine_calls as ea

_Index = QModelIndex | QPersistentModelIndex

TEXT_H = 44  # two text lines under the thumbnail
PAD = 6
MARK_COLOURS = {"✓": "#1B7837", "⚑": "#A0407F", "!": "#B2182B", "?": "#5E3C99"}


def tile_marks(item: Any, referral: bool) -> list[tuple[str, str]]:
    """(mark, meaning) pairs for a tile; attributes from other streams are read with defaults."""
    marks = []
    label = getattr(item, "current_label", None)
    if label:
        marks.append(("✓", f"reviewed: {ea.display_name(label)}"))
    if referral:
        marks.append(("⚑", "flagged for referral"))
    if label and label != "refer" and label != item.top_class:
        marks.append(("!", "clinician disagreed with the model"))
    check = photo_check_text(item)
    if check:
        marks.append(("?", f"check photo: {check}"))
    return marks


def photo_check_text(item: Any) -> str:
    """Why the photo needs checking ("not a skin photo?", "blurry;too dark"), "" when it does
    not: ReviewItem's ``out_of_scope`` / ``quality_issues`` (its ``check_photo``)."""
    reasons = []
    if getattr(item, "out_of_scope", None):
        reasons.append("not a skin photo?")
    quality = getattr(item, "quality_issues", None)
    if quality:
        reasons.append(f"poor quality ({quality})")
    if not reasons and getattr(item, "check_photo", False):
        reasons.append("check photo")
    return ", ".join(reasons)


def _text_colour(bg: QColor) -> QColor:
    """Black or white, whichever reads better on ``bg``."""
    lum = 0.2126 * bg.redF() + 0.7152 * bg.greenF() + 0.0722 * bg.blueF()
    return QColor("#000000") if lum > 0.35 else QColor("#FFFFFF")


class TileDelegate(QStyledItemDelegate):
    """Paints one gallery tile; geometry depends only on the thumbnail size."""

    def __init__(self, thumb_size: int = 160, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(self.thumb_size + 2 * PAD, self.thumb_size + TEXT_H + 2 * PAD)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        item = index.data(GalleryModel.ItemRole)
        if item is None:
            return
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        r = QRect(option.rect).adjusted(3, 3, -3, -3)
        pal = option.palette
        p.fillRect(r, pal.base())
        self._paint_thumb(p, r, index)
        self._paint_text(p, r, item, bool(index.data(GalleryModel.ReferralRole)), option)
        p.setBrush(Qt.BrushStyle.NoBrush)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            pen = QPen(pal.highlight().color(), 4)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            p.setPen(pen)
            p.drawRect(r.adjusted(2, 2, -2, -2))
        else:
            p.setPen(QPen(pal.mid().color(), 1))
            p.drawRect(r)
        p.restore()

    def _paint_thumb(self, p: QPainter, r: QRect, index: _Index) -> None:
        box = QRect(r.left() + PAD - 3, r.top() + PAD - 3, self.thumb_size, self.thumb_size)
        pm = index.data(GalleryModel.ThumbRole)
        if pm is not None and not pm.isNull():
            scaled = pm.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            p.drawPixmap(target, pm)
            return
        p.fillRect(box, QColor("#E6E6E6"))
        p.setPen(QColor("#555555"))
        error = index.data(GalleryModel.ThumbErrorRole)
        text = f"no preview\n{error}" if error else "loading..."
        p.drawText(
            box.adjusted(4, 4, -4, -4),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            text,
        )

    def _paint_text(
        self, p: QPainter, r: QRect, item: Any, referral: bool, option: QStyleOptionViewItem
    ) -> None:
        top = r.top() + PAD - 3 + self.thumb_size + 4
        line1 = QRect(r.left() + PAD - 3, top, self.thumb_size, 18)
        line2 = QRect(r.left() + PAD - 3, top + 20, self.thumb_size, 18)
        bold = QFont(option.font)
        bold.setBold(True)
        p.setFont(bold)
        name = ea.display_name(item.top_class)
        bg = QColor(ea.class_colour(item.top_class))
        chip_w = min(line1.width() - 48, p.fontMetrics().horizontalAdvance(name) + 12)
        chip = QRect(line1.left(), line1.top(), chip_w, line1.height())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bg)
        p.drawRoundedRect(chip, 4, 4)
        p.setPen(_text_colour(bg))
        p.drawText(chip, Qt.AlignmentFlag.AlignCenter, name)
        p.setPen(option.palette.text().color())
        p.drawText(
            line1,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{item.confidence:.0%}",
        )
        x = line2.left()
        for mark, _meaning in tile_marks(item, referral):
            p.setPen(QColor(MARK_COLOURS[mark]))
            w = p.fontMetrics().horizontalAdvance(mark) + 8
            p.drawText(
                QRect(x, line2.top(), w, line2.height()), Qt.AlignmentFlag.AlignVCenter, mark
            )
            x += w
        p.setFont(option.font)
        p.setPen(option.palette.placeholderText().color())
        rest = QRect(x, line2.top(), line2.right() - x, line2.height())
        fname = p.fontMetrics().elidedText(
            item_name(item), Qt.TextElideMode.ElideMiddle, rest.width()
        )
        p.drawText(rest, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, fname)


def item_name(item: Any) -> str:
    import os

    return os.path.basename(getattr(item, "path", "") or "") or item.sha256[:12]


class GalleryView(QListView):
    """The grid. ``currentItemChanged(item)`` fires when the clinician moves to another image;
    the current image and scroll position survive a model reload (new results, new labels)."""

    currentItemChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, thumb_size: int = 160) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setSpacing(4)
        self.setWrapping(True)
        self.setMouseTracking(True)
        self.setAccessibleName("Gallery")
        self.delegate = TileDelegate(thumb_size, self)
        self.setItemDelegate(self.delegate)
        self.empty_text = "No images match this filter."
        self._keep: tuple[str | None, int] = (None, 0)
        self._pending: str | None = None

    def setModel(self, model: Any) -> None:  # noqa: N802 (Qt API)
        super().setModel(model)
        model.modelAboutToBeReset.connect(self._remember)
        model.modelReset.connect(self._restore)
        model.rowsInserted.connect(self._restore_later)
        self.selectionModel().currentChanged.connect(self._on_current)

    def set_thumb_size(self, size: int) -> None:
        self.delegate.thumb_size = size
        self.model().thumbs.set_size(size)
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def current_item(self) -> Any:
        idx = self.currentIndex()
        return idx.data(GalleryModel.ItemRole) if idx.isValid() else None

    def select_row(self, row: int) -> bool:
        model = self.model()
        if not 0 <= row < model.rowCount():
            return False
        idx = model.index(row, 0)
        self.setCurrentIndex(idx)
        self.scrollTo(idx)
        return True

    def select_sha(self, sha256: str) -> bool:
        """Select an image by hash; when its row is not loaded yet, select it when it arrives."""
        row = self.model().row_of(sha256)
        if row >= 0:
            return self.select_row(row)
        self._pending = sha256
        self.setCurrentIndex(self.model().index(-1, 0))
        return False

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentItemChanged.emit(
            current.data(GalleryModel.ItemRole) if current.isValid() else None
        )

    def _remember(self) -> None:
        item = self.current_item()
        self._keep = (item.sha256 if item else None, self.verticalScrollBar().value())

    def _restore(self) -> None:
        sha, scroll = self._keep
        if not self._select_quietly(sha):
            self._pending = sha  # not loaded (yet): select it if a later page brings it
        self.doItemsLayout()
        self.verticalScrollBar().setValue(scroll)

    def _restore_later(self, *_args: Any) -> None:
        if (
            self._pending
            and not self.currentIndex().isValid()
            and self._select_quietly(self._pending)
        ):
            self.scrollTo(self.currentIndex())

    def _select_quietly(self, sha: str | None) -> bool:
        """Make ``sha`` current without telling the review panel (it already shows it)."""
        row = self.model().row_of(sha) if sha else -1
        if row < 0:
            return False
        self._pending = None
        blocker = self.selectionModel().blockSignals(True)
        self.setCurrentIndex(self.model().index(row, 0))
        self.selectionModel().blockSignals(blocker)
        self.viewport().update()
        return True

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0 and not model.loading:
            p = QPainter(self.viewport())
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
