"""One photo of a visit: the picture, its file name, the model's class and its referral state."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from desktop.services.i18n import _
from desktop.services.visits import CARD_SIDE, CardData
from desktop.services.vocabulary import long_name

REFER_STYLE = "color: white; background: #c0392b; padding: 2px 6px; font-weight: bold;"
CLEAR_STYLE = "color: #2d6a4f; padding: 2px 6px;"


class PhotoCard(QFrame):
    """A card in the visit's row of photos (a referred photo is framed in red)."""

    def __init__(self, card: CardData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card = card
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("photo_card")
        border = "#c0392b" if card.referred else "#9aa5b1"
        self.setStyleSheet(f"QFrame#photo_card {{ border: 2px solid {border}; }}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.picture = QLabel()
        self.picture.setFixedSize(CARD_SIDE, CARD_SIDE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if card.image is not None and not card.image.isNull():
            self.picture.setPixmap(QPixmap.fromImage(card.image))
        else:
            self.picture.setText(_("photo not found"))
        self.name = QLabel(card.name)
        self.name.setToolTip(card.name)
        self.name.setMaximumWidth(CARD_SIDE)
        self.class_label = QLabel(card.class_text)
        self.class_label.setStyleSheet("font-weight: bold;")
        self.referral = QLabel(_("Refer") if card.referred else _("No referral"))
        self.referral.setStyleSheet(REFER_STYLE if card.referred else CLEAR_STYLE)
        self.referral.setAccessibleName(_("Referral"))
        label = (
            _("Label: {label}").format(label=long_name(card.label))
            if card.label
            else _("Not labelled")
        )
        self.label = QLabel(label)
        for widget in (self.picture, self.name, self.class_label, self.referral, self.label):
            lay.addWidget(widget)
