"""The review panel's keyboard actions: label keys 1-4 and R, undo / redo, navigation, the
overlay, zoom and detach. Single-key shortcuts are off while a text field has focus."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from desktop.review.case_actions import CaseActions
from desktop.review.image_view import WHEEL_STEP
from desktop.services.i18n import N_, _
from desktop.services.vocabulary import REFER, long_name

if TYPE_CHECKING:
    from desktop.review.panel import ReviewPanel

_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
_NAV = (
    ("next", N_("Next image"), "Space"),
    ("prev", N_("Previous image"), "Backspace"),
    ("unreviewed", N_("Next unreviewed image"), "U"),
    ("uncertain", N_("Next most uncertain image"), "N"),
)


class ReviewActions(QObject):
    """The panel's actions (``all``), with the label actions retitled for the model's classes."""

    def __init__(self, panel: ReviewPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.text_focus = False
        p, A = panel, self._action
        self.label_actions = [
            A(_("Label {n}").format(n=i + 1), str(i + 1), lambda _c=False, i=i: p.label_index(i))
            for i in range(4)
        ]
        self.label_actions.append(
            A(_("Label {name}").format(name=long_name(REFER)), "R", lambda: p.label_current(REFER))
        )
        self.overlay = A(_("Grad-CAM overlay"), "G", p.overlay_bar.overlay_box.toggle)
        self.overlay.setCheckable(True)
        self.overlay.setChecked(True)
        p.overlay_bar.overlay_box.toggled.connect(self.overlay.setChecked)
        nav = [
            A(_(text), key, lambda _c=False, w=where: p.navigate.emit(w))
            for where, text, key in _NAV
        ]
        view = p.view
        self.all = [
            *self.label_actions,
            A(_("Undo label"), "Ctrl+Z", p.undo, single_key=False),
            A(_("Redo label"), "Ctrl+Shift+Z", p.redo, single_key=False),
            *nav,
            self.overlay,
            A(_("Fit photo"), "F", view.fit),
            A(_("Zoom in"), "+", lambda: view.zoom_by(WHEEL_STEP)),
            A(_("Zoom out"), "-", lambda: view.zoom_by(1 / WHEEL_STEP)),
            A(_("Actual pixels (100%)"), "0", view.actual_size),
            A(_("Detach / maximise review"), "F11", lambda: toggle_detached(p), False),
        ]
        panel.addActions(self.all)
        self.case = CaseActions(panel)  # the Case menu's note, folder and SHA-256 actions
        self.retitle([])
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    def _action(
        self, text: str, key: str, slot: Callable[[], object], single_key: bool = True
    ) -> QAction:
        action = QAction(text, self.panel)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        shown = QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{text} ({shown})")
        action.setProperty("single_key", single_key)
        action.triggered.connect(slot)
        return action

    def retitle(self, classes: list[str]) -> None:
        """Keys 1-4 follow the classes of the model on show (hidden when it has fewer)."""
        for i, action in enumerate(self.label_actions[:-1]):
            name = classes[i] if i < len(classes) else None
            action.setText(
                _("Label {name}, next").format(name=long_name(name))
                if name
                else _("Label {n}").format(n=i + 1)
            )
            action.setVisible(name is not None)

    def update(self, has_item: bool, saving: bool) -> None:
        """Label keys need an image and no save in flight; single keys wait while typing."""
        for action in self.all:
            enabled = not (self.text_focus and action.property("single_key"))
            if action in self.label_actions:
                enabled = enabled and has_item and not saving
            action.setEnabled(enabled)
        self.case.update(has_item)

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Single-key shortcuts off while any text field of the window has focus."""
        text_focus = isinstance(new, _TEXT_INPUTS) and not new.isReadOnly()
        if text_focus != self.text_focus:
            self.text_focus = text_focus
            self.panel.update_actions()


def toggle_detached(panel: ReviewPanel) -> None:
    """F11: the panel as its own maximised window for a large photo, and back."""
    if panel.isWindow() and panel.parentWidget() is not None:
        panel.setWindowFlag(Qt.WindowType.Window, False)
        panel.show()
    elif panel.parentWidget() is not None:
        panel.setWindowFlag(Qt.WindowType.Window, True)
        panel.setWindowTitle(_("Review - {name}").format(name=panel.title.text()))
        panel.showMaximized()
    elif panel.isMaximized():
        panel.showNormal()
    else:
        panel.showMaximized()
