"""The review panel's header: file name, the model's call against the clinician's label, and the
referral, out-of-scope and quality marks (marks other streams add are read with defaults)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.services.i18n import _, format_percent
from desktop.services.store import ReviewItem
from desktop.services.vocabulary import REFER, class_colour, long_name


def item_name(item: ReviewItem) -> str:
    """The file name a clinician knows the photo by (a hash prefix when the path is unknown)."""
    return Path(item.path).name if item.path else f"{item.sha256[:12]}..."


def mark_text(item: ReviewItem, referral: str | None) -> str:
    """One line per mark: referral (with the rule's reason), out of scope, poor quality."""
    marks = []
    if referral:
        marks.append("⚑ " + _("Refer: {reason}").format(reason=referral))
    if item.out_of_scope:
        marks.append("? " + _("Out of scope: may not be a skin photo the model knows"))
    if item.quality_issues:
        marks.append("? " + _("Poor quality: {issues}").format(issues=item.quality_issues))
    return "\n".join(marks)


class ReviewHeader(QWidget):
    """Title, summary and marks; marks sit on a Refer-coloured stripe and hide when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.others = QLabel(self)  # other runs' predictions of the photo, when they differ
        self.others.setWordWrap(True)
        self.others.setAccessibleName(_("Other runs' predictions"))
        self.flags = QLabel(self)
        self.flags.setWordWrap(True)
        refer = QColor(class_colour(REFER))
        self.flags.setStyleSheet(
            f"QLabel {{ background-color: {refer.lighter(160).name()}; color: black;"
            f" border-left: 6px solid {refer.name()}; padding: 2px 6px; }}"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.summary, self.others, self.flags):
            layout.addWidget(widget)
        self.show_empty()

    def show_empty(self) -> None:
        self.title.setText(_("No image selected"))
        self.title.setToolTip("")
        self.summary.setText(_("Pick a photo in the gallery; Space goes to the next one."))
        self.set_marks("")
        self.set_others([])

    def show_item(self, item: ReviewItem, referral: str | None = None) -> None:
        self.title.setText(item_name(item))
        self.title.setToolTip(item.path or item.sha256)
        self.show_label(item, item.current_label)
        self.set_marks(mark_text(item, referral))
        self.set_others([])

    def show_label(self, item: ReviewItem, label: str | None) -> None:
        """The label in force, the model's call with the version that made it, and a mark when
        they disagree."""
        said = _("Model {model}: {cls} {share}").format(
            model=item.model_text,
            cls=long_name(item.top_class),
            share=format_percent(item.confidence),
        )
        differs = label not in (None, REFER, item.top_class)
        mark = "  " + _("(! differs from the model)") if differs else ""
        self.summary.setText(_("Label: {label}").format(label=long_name(label)) + f"{mark}\n{said}")
        name = item.model_name or _("model")
        model = f"{name}@{item.model_version or '?'}"
        self.summary.setToolTip(_("Prediction made by model {model}").format(model=model))

    def set_others(self, lines: list[str]) -> None:
        """Other runs' predictions of the photo (another model's), under the one on show."""
        self.others.setText("\n".join(lines))
        self.others.setVisible(bool(lines))

    def set_marks(self, text: str) -> None:
        self.flags.setText(text)
        self.flags.setVisible(bool(text))
