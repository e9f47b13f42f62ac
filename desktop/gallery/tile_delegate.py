"""The gallery tile painter.

Each tile shows the thumbnail, the predicted class as a coloured
chip WITH its name (never colour alone), the confidence, and marks: ✓ reviewed, ⚑ referral,
! the clinician disagreed with the model, ? out of scope / poor quality. The selected tile gets a
thick outline, not only a colour change.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.gallery.model import GalleryModel
from desktop.services.store import ReviewItem
from desktop.services.vocabulary import class_colour, long_name, short_name

_Index = QModelIndex | QPersistentModelIndex

TEXT_H = 44  # two text lines under the thumbnail
PAD = 6
MARK_COLOURS = {"✓": "#1B7837", "⚑": "#A0407F", "!": "#B2182B", "?": "#5E3C99"}


def tile_marks(item: ReviewItem, referral: bool) -> list[tuple[str, str]]:
    """(mark, meaning) pairs for a tile."""
    marks = []
    label = item.current_label
    if label:
        marks.append(("✓", f"reviewed: {long_name(label)}"))
    if referral:
        marks.append(("⚑", "flagged for referral"))
    if label and label != "refer" and label != item.top_class:
        marks.append(("!", "clinician disagreed with the model"))
    check = photo_check_text(item)
    if check:
        marks.append(("?", f"check photo: {check}"))
    return marks


def photo_check_text(item: ReviewItem) -> str:
    """Why the photo needs checking ("not a skin photo?", "blurry;too dark"), "" when it does
    not: ReviewItem's ``out_of_scope`` / ``quality_issues`` (its ``check_photo``)."""
    reasons = []
    if item.out_of_scope:
        reasons.append("not a skin photo?")
    if item.quality_issues:
        reasons.append(f"poor quality ({item.quality_issues})")
    if not reasons and item.check_photo:
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
        self, p: QPainter, r: QRect, item: ReviewItem, referral: bool, option: QStyleOptionViewItem
    ) -> None:
        top = r.top() + PAD - 3 + self.thumb_size + 4
        line1 = QRect(r.left() + PAD - 3, top, self.thumb_size, 18)
        line2 = QRect(r.left() + PAD - 3, top + 20, self.thumb_size, 18)
        bold = QFont(option.font)
        bold.setBold(True)
        p.setFont(bold)
        name = short_name(item.top_class)
        bg = QColor(class_colour(item.top_class))
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


def item_name(item: ReviewItem) -> str:
    return os.path.basename(item.path or "") or item.sha256[:12]
