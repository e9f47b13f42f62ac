"""The gallery tile painter.

Each tile shows the thumbnail, then (see :mod:`desktop.gallery.tile_text`) the clinician's label
first where there is one, else the predicted class, as a coloured chip WITH its name (never colour
alone); under a label the model's call, smaller; marks: ✓ reviewed, ⚑ referral, ! the clinician
disagreed with the model, ? out of scope / poor quality; and the file name with the model version
that made the prediction. The selected tile gets a thick outline, not only a colour change.
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
from desktop.gallery.tile_text import TileText, tile_text
from desktop.services.i18n import _
from desktop.services.store import ReviewItem
from desktop.services.vocabulary import class_colour, long_name

_Index = QModelIndex | QPersistentModelIndex

TEXT_H = 60  # three text lines under the thumbnail
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
PAD = 6
MARK_COLOURS = {"✓": "#1B7837", "⚑": "#A0407F", "!": "#B2182B", "?": "#5E3C99"}

DISPUTED_COLOUR = "#B35900"  # the amber of the status bar's warnings


def tile_marks(item: ReviewItem, referral: bool) -> list[tuple[str, str]]:
    """(mark, meaning) pairs for a tile."""
    marks = []
    label = item.current_label
    if label:
        marks.append(("✓", _("reviewed: {label}").format(label=long_name(label))))
    if referral:
        marks.append(("⚑", _("flagged for referral")))
    if label and label != "refer" and label != item.top_class:
        marks.append(("!", _("clinician disagreed with the model")))
    check = photo_check_text(item)
    if check:
        marks.append(("?", _("check photo: {why}").format(why=check)))
    return marks


def photo_check_text(item: ReviewItem) -> str:
    """Why the photo needs checking ("not a skin photo?", "blurry;too dark"), "" when it does
    not: ReviewItem's ``out_of_scope`` / ``quality_issues`` (its ``check_photo``)."""
    reasons = []
    if item.out_of_scope:
        reasons.append(_("not a skin photo?"))
    if item.quality_issues:
        reasons.append(_("poor quality ({issues})").format(issues=item.quality_issues))
    if not reasons and item.check_photo:
        reasons.append(_("check photo"))
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
        text = _("no preview") + f"\n{_(error)}" if error else _("loading...")
        p.drawText(
            box.adjusted(4, 4, -4, -4),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            text,
        )

    def _paint_text(
        self, p: QPainter, r: QRect, item: ReviewItem, referral: bool, option: QStyleOptionViewItem
    ) -> None:
        text = tile_text(item)
        left, top = r.left() + PAD - 3, r.top() + PAD - 3 + self.thumb_size + 4
        line1 = QRect(left, top, self.thumb_size, 18)
        line2 = QRect(left, top + 20, self.thumb_size, 16)
        line3 = QRect(left, top + 37, self.thumb_size, 16)
        bold = QFont(option.font)
        bold.setBold(True)
        small = QFont(option.font)
        small.setPointSizeF(max(6.0, option.font.pointSizeF() * 0.85))
        p.setFont(bold)
        self._paint_chip(p, line1, text, option)
        p.setFont(small)
        x = line2.left()
        if text.second:  # the model's call, second and smaller, under the clinician's label
            p.setPen(option.palette.text().color())
            w = min(line2.width() - 30, p.fontMetrics().horizontalAdvance(text.second) + 6)
            p.drawText(QRect(x, line2.top(), w, line2.height()), _LEFT, text.second)
            x += w
        for mark, _meaning in tile_marks(item, referral):
            if mark == "✓" and text.labelled:
                continue  # already beside the label
            p.setPen(QColor(MARK_COLOURS[mark]))
            w = p.fontMetrics().horizontalAdvance(mark) + 6
            p.drawText(QRect(x, line2.top(), w, line2.height()), _LEFT, mark)
            x += w
        p.setPen(option.palette.placeholderText().color())
        metrics = p.fontMetrics()
        room = line3.width() * 3 // 5  # the version (name and hash) over the file name
        version = metrics.elidedText(text.model, Qt.TextElideMode.ElideMiddle, room)
        vw = metrics.horizontalAdvance(version)
        p.drawText(line3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, version)
        rest = line3.adjusted(0, 0, -(vw + 6), 0)
        fname = metrics.elidedText(item_name(item), Qt.TextElideMode.ElideMiddle, rest.width())
        p.drawText(rest, _LEFT, fname)
        p.setFont(option.font)

    def _paint_chip(
        self, p: QPainter, line: QRect, text: TileText, option: QStyleOptionViewItem
    ) -> None:
        """The first line: the class (the label's where given) on its colour, the note beside."""
        bg = QColor(class_colour(text.first_class))
        note_w = p.fontMetrics().horizontalAdvance(text.first_note) + 6
        chip_w = min(line.width() - note_w, p.fontMetrics().horizontalAdvance(text.first) + 12)
        chip = QRect(line.left(), line.top(), chip_w, line.height())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bg)
        p.drawRoundedRect(chip, 4, 4)
        p.setPen(_text_colour(bg))
        name = p.fontMetrics().elidedText(text.first, Qt.TextElideMode.ElideRight, chip_w - 6)
        p.drawText(chip, Qt.AlignmentFlag.AlignCenter, name)
        colour = QColor(MARK_COLOURS["✓"]) if text.labelled else option.palette.text().color()
        if text.first_note.startswith("⚠"):  # disputed: a warning, not a done label
            colour = QColor(DISPUTED_COLOUR)
        p.setPen(colour)
        p.drawText(
            line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text.first_note
        )


def item_name(item: ReviewItem) -> str:
    return os.path.basename(item.path or "") or item.sha256[:12]
