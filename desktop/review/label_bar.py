"""The label buttons: one per class (keys 1-4) and "Refer / uncertain" (R).

Each button shows its key, the class name and a stripe of the class colour; the label in force is
shown checked, so the clinician sees what is saved without reading the history.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QPushButton, QSizePolicy, QWidget

from desktop.services.i18n import _
from desktop.services.vocabulary import REFER, class_colour, long_name


def button_key(index: int, name: str) -> str:
    """The single key for a label: 1..9 for classes in model order, R for refer."""
    return "R" if name == REFER else str(index + 1)


class LabelBar(QWidget):
    """Emits ``chosen(label)`` when a button is clicked (the panel's actions reuse ``chosen``)."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._buttons: dict[str, QPushButton] = {}
        self._classes: list[str] = []

    def set_classes(self, classes: list[str]) -> None:
        """One button per class plus refer; rebuilt only when the classes change."""
        if list(classes) == self._classes:
            return
        for button in self._buttons.values():
            button.deleteLater()
        self._buttons.clear()
        self._classes = list(classes)
        names = [*self._classes, REFER]
        for i, name in enumerate(names):
            button = self._make_button(i, name)
            self._buttons[name] = button
            self._layout.addWidget(button, i // 2, i % 2)

    def classes(self) -> list[str]:
        return list(self._classes)

    def _make_button(self, index: int, name: str) -> QPushButton:
        key = button_key(index, name)
        button = QPushButton(f"{key}  {long_name(name)}", self)
        button.setCheckable(True)
        # Tab reaches the buttons, but a click leaves focus where it was (the keys keep working)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.setAutoExclusive(False)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setToolTip(
            _("Label as {name}, save and go to the next image ({key})").format(
                name=long_name(name), key=key
            )
        )
        colour = class_colour(name)
        button.setStyleSheet(
            f"QPushButton {{ border-left: 6px solid {colour}; padding: 4px 8px; text-align: left; }}"
            "QPushButton:checked { font-weight: bold; }"
        )
        # clicked(bool) carries the check state; the label name is what the panel needs
        button.clicked.connect(lambda _checked=False, n=name: self.chosen.emit(n))
        return button

    def button(self, name: str) -> QPushButton | None:
        return self._buttons.get(name)

    def set_current(self, label: str | None) -> None:
        """Check the button of the label in force (none when unlabelled)."""
        for name, button in self._buttons.items():
            button.setChecked(name == label)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while a label is being saved (no double clicks)."""
        for button in self._buttons.values():
            button.setEnabled(not busy)
