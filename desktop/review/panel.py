"""The review panel: one photo, its Grad-CAM, its probabilities, and the clinician's label.

The panel only wires widgets to :mod:`desktop.services.review` tasks. Every decode, Grad-CAM and
store write runs on the services' QThreadPool; each task carries the request id of the image it
was started for, and an answer for an image no longer shown is dropped, so the panel never shows
another image's overlay. Single-key shortcuts are disabled while a text field has focus.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.review.header import ReviewHeader, item_name, mark_text
from desktop.review.history import HistoryView
from desktop.review.image_view import WHEEL_STEP, ImageView
from desktop.review.label_bar import REFER, LabelBar
from desktop.review.prob_chart import ProbChart
from desktop.review.services import (
    DEFAULT_CLASSES,
    ReviewServices,
    display_name,
)
from desktop.services import review as rw

# The pool is shared with the gallery's thumbnails: what the clinician is looking at, and above
# all a label being saved, go ahead of background work queued at the default priority 0.
SHOW_PRIORITY = 5
SAVE_PRIORITY = 10
_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
_NAV = (
    ("next", "Next image", "Space"),
    ("prev", "Previous image", "Backspace"),
    ("unreviewed", "Next unreviewed image", "U"),
    ("uncertain", "Next most uncertain image", "N"),
)


class ReviewPanel(QWidget):
    """Shows one ``engine.store.ReviewItem``; see docs in desktop/review_services.py."""

    labelled = Signal(str, str)  # sha256, label now in force ("" when none) after label/undo/redo
    navigate = Signal(str)  # "next" | "prev" | "unreviewed" | "uncertain"
    reveal = Signal(str)  # sha256 of an image an undo/redo changed while another was on show

    def __init__(self, services: ReviewServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._item: Any = None
        self._request = 0
        self._saving = False
        self._writing: tuple[str, str] = ("", "")  # the image of the label write in flight
        self._session = rw.LabelSession()
        self._text_focus = False
        self._heat_pending: Any = None
        self._last_explanation: Any = None  # of the image on show: recolouring needs no Grad-CAM
        self.stale_dropped = 0  # answers dropped because their image is no longer shown
        self._explainer = rw.ExplainerCache(services.explainer)
        # Grad-CAM runs one at a time on its own thread: it never holds up photo decodes or
        # store writes on the shared pool, and requests skipped past are dropped unstarted.
        self._gradcam_pool = QThreadPool(self)
        self._gradcam_pool.setMaxThreadCount(1)
        self._relay = rw.Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._build_ui()
        self._actions = self._build_actions()
        self.addActions(self._actions)
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self._on_focus_changed)
        self.show_item(None)

    # --- layout --------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.header = ReviewHeader(self)
        self.title, self.summary, self.flags = (
            self.header.title,
            self.header.summary,
            self.header.flags,
        )
        self.view = ImageView(self)
        self.view.set_opacity(self.services.opacity)
        self.view.setAccessibleName("Photo with Grad-CAM overlay")
        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.header)
        top_layout.addWidget(self.view, 1)
        top_layout.addLayout(self._build_overlay_row())
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self._build_lower())
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    def _build_overlay_row(self) -> QHBoxLayout:
        self.overlay_box = QCheckBox("Grad-CAM", self)
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip("Show where the model looked (Grad-CAM heatmap) (G)")
        self.overlay_box.toggled.connect(self.view.set_overlay_visible)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(self.services.opacity * 100))
        self.opacity.setToolTip("Heatmap opacity")
        self.opacity.setAccessibleName("Heatmap opacity")
        self.opacity.valueChanged.connect(self._on_opacity)
        self.opacity_value = QLabel(f"{self.opacity.value()}%", self)
        self.fit_button = self._tool_button("Fit", "Fit the photo to the view (F)", self.view.fit)
        self.actual_button = self._tool_button("100%", "Actual pixels (0)", self.view.actual_size)
        self.zoom_label = QLabel(self)
        self.view.zoomChanged.connect(lambda s: self.zoom_label.setText(f"{s * 100:.0f}%"))
        row = QHBoxLayout()
        for widget in (
            self.overlay_box,
            self.opacity,
            self.opacity_value,
            self.fit_button,
            self.actual_button,
            self.zoom_label,
        ):
            row.addWidget(widget)
        row.setStretch(1, 1)
        return row

    def _tool_button(self, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _build_lower(self) -> QWidget:
        lower = QWidget(self)
        layout = QVBoxLayout(lower)
        layout.setContentsMargins(0, 0, 0, 0)
        self.info = QLabel(self)  # the photo and its Grad-CAM
        self.info.setWordWrap(True)
        self.status = QLabel(self)  # label saves, undo, redo: never overwritten by Grad-CAM news
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Label status")
        self.chart = ProbChart(self)
        self.labels = LabelBar(self)
        self.labels.set_classes(list(DEFAULT_CLASSES))
        self.labels.chosen.connect(self.label_current)
        self.note = QLineEdit(self)
        self.note.setPlaceholderText("Note, saved with the next label (Esc: back to the keys)")
        self.note.setToolTip(
            "Free-text note saved with the next label; single-key shortcuts "
            "are off while you type here (Esc leaves the field)"
        )
        self.note.setClearButtonEnabled(True)
        self.note.addAction(self._escape_action())
        self.note.returnPressed.connect(self.view.setFocus)
        self.history = HistoryView(self)
        for widget in (self.info, self.chart, self.labels, self.status, self.note):
            layout.addWidget(widget)
        layout.addWidget(QLabel("History", self))
        layout.addWidget(self.history)
        lower.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        return lower

    def _escape_action(self) -> QAction:
        action = QAction("Leave the note field", self.note)
        action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(lambda: self.view.setFocus(Qt.FocusReason.ShortcutFocusReason))
        return action

    # --- actions -------------------------------------------------------------------------

    def _action(self, text: str, key: str, slot: Any, single_key: bool = True) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{text} ({QKeySequence(key).toString(QKeySequence.NativeText)})")
        action.setProperty("single_key", single_key)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> list[QAction]:
        self._label_actions = [
            self._action(f"Label {i + 1}", str(i + 1), lambda _=False, i=i: self._label_index(i))
            for i in range(4)
        ]
        self._label_actions.append(
            self._action(f"Label {display_name(REFER)}", "R", lambda: self.label_current(REFER))
        )
        self._retitle_label_actions()
        self.overlay_action = self._action("Grad-CAM overlay", "G", self.overlay_box.toggle)
        self.overlay_action.setCheckable(True)
        self.overlay_action.setChecked(True)
        self.overlay_box.toggled.connect(self.overlay_action.setChecked)
        nav = [
            self._action(text, key, lambda _=False, w=where: self.navigate.emit(w))
            for where, text, key in _NAV
        ]
        return [
            *self._label_actions,
            self._action("Undo label", "Ctrl+Z", self.undo, single_key=False),
            self._action("Redo label", "Ctrl+Shift+Z", self.redo, single_key=False),
            *nav,
            self.overlay_action,
            self._action("Fit photo", "F", self.view.fit),
            self._action("Zoom in", "+", lambda: self.view.zoom_by(WHEEL_STEP)),
            self._action("Zoom out", "-", lambda: self.view.zoom_by(1 / WHEEL_STEP)),
            self._action("Actual pixels (100%)", "0", self.view.actual_size),
            self._action("Detach / maximise review", "F11", self.toggle_detached, False),
        ]

    def _retitle_label_actions(self) -> None:
        classes = self.labels.classes()
        for i, action in enumerate(self._label_actions[:-1]):
            name = classes[i] if i < len(classes) else None
            action.setText(f"Label {display_name(name)}, next" if name else f"Label {i + 1}")
            action.setVisible(name is not None)

    def review_actions(self) -> list[QAction]:
        """The panel's actions with their shortcuts, for the main window's Review menu."""
        return list(self._actions)

    def _update_actions(self) -> None:
        has_item = self._item is not None
        for action in self._actions:
            enabled = not (self._text_focus and action.property("single_key"))
            if action in self._label_actions:
                enabled = enabled and has_item and not self._saving
            action.setEnabled(enabled)
        self.labels.set_busy(self._saving or not has_item)

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Single-key shortcuts off while any text field of the window has focus."""
        text_focus = isinstance(new, _TEXT_INPUTS) and not getattr(new, "isReadOnly", bool)()
        if text_focus != self._text_focus:
            self._text_focus = text_focus
            self._update_actions()

    # --- showing an item -----------------------------------------------------------------

    def current_item(self) -> Any:
        return self._item

    def show_item(self, item: Any) -> None:
        """Show ``item`` (an engine.store.ReviewItem) or, for ``None``, the empty state.

        The image on show again (a refreshed queue row) keeps its photo and Grad-CAM; only the
        label, marks and history are re-read."""
        if item is not None and self._item is not None and item.sha256 == self._item.sha256:
            self._item = item
            self._show_label(item.current_label)
            self._load_meta()
            return
        self._request += 1
        self._last_explanation = None
        self._item, self._heat_pending = item, None
        self.note.clear()
        self.info.clear()
        if item is None:
            self._show_empty()
        else:
            self._show_header(item)
            self.view.show_message(f"Loading {item_name(item)}...")
            self._start_loading(item)
        self._update_actions()

    def _show_empty(self) -> None:
        self.header.show_empty()
        self.view.show_message("No image selected")
        self.chart.set_probabilities(None)
        self.labels.set_current(None)
        self.history.set_rows([])

    def _show_header(self, item: Any) -> None:
        self.header.show_item(item)
        classes = [c for c in item.probabilities if c != REFER] or list(DEFAULT_CLASSES)
        self.labels.set_classes(classes)
        self._retitle_label_actions()
        self.chart.set_probabilities(item.probabilities)
        self.labels.set_current(item.current_label)
        self.history.set_rows([])

    def _show_label(self, label: str | None) -> None:
        self.header.show_label(self._item, label)
        self.labels.set_current(label)

    def _start_loading(self, item: Any) -> None:
        request, store, services = self._request, self.services.store, self.services
        file = {}

        def photo(early: Any) -> Any:
            file["path"] = rw.image_file(store, item)
            return rw.load_photo_staged(file["path"], early)

        def explain() -> Any:
            path = file.get("path") or rw.image_file(store, item)
            ex = self._explainer.explain(
                path,
                colormap=services.colormap,
                alpha=services.opacity,
                still_wanted=lambda: self._request == request,
            )
            return None if ex is None else (ex, rw.pil_to_qimage(ex.heat_rgb))

        self.info.setText("Computing Grad-CAM...")
        task = rw.Task(self._relay, "photo", request, photo, staged=True)
        services.pool.start(task, SHOW_PRIORITY)
        self._load_meta()
        self._gradcam_pool.start(rw.Task(self._relay, "explain", request, explain))

    def _load_meta(self) -> None:
        """Re-read the history and the referral flag of the image on show."""
        store, item = self.services.store, self._item

        def meta() -> Any:
            return rw.load_history(store, item.sha256), rw.referral_reason(store, item)

        self.services.pool.start(rw.Task(self._relay, "meta", self._request, meta), SHOW_PRIORITY)

    def wait_idle(self, msecs: int = 30_000) -> bool:
        """Wait for this panel's background work (closing the app, tests)."""
        return self._gradcam_pool.waitForDone(msecs) and self.services.pool.waitForDone(msecs)

    # --- answers from workers ------------------------------------------------------------

    def _on_done(self, kind: str, request: int, result: Any) -> None:
        if kind in ("label", "undo", "redo"):
            self._on_saved(kind, request, result)
            return
        if request != self._request:
            self.stale_dropped += 1
            return
        if kind == "photo:early":
            self._show_photo(result, first=True)
        elif kind == "photo" and result is not None:
            self._show_photo(result, first=False)
        elif kind == "explain" and result is not None:
            self._show_explanation(*result)
        elif kind == "recolour":
            self._show_heat(result)
        elif kind == "meta":
            rows, referral = result
            self.history.set_rows(rows)
            self.header.set_marks(mark_text(self._item, referral))

    def _show_heat(self, heat: Any) -> None:
        if self.view.has_photo():
            self.view.set_heat(heat)
        else:
            self._heat_pending = heat

    def _show_photo(self, image: Any, first: bool) -> None:
        if first:
            self.view.set_photo(image)
        else:
            self.view.upgrade_photo(image)
        if self._heat_pending is not None:
            self.view.set_heat(self._heat_pending)
            self._heat_pending = None

    def _show_explanation(self, ex: Any, heat: Any) -> None:
        self._last_explanation = ex
        self._show_heat(heat)
        target = getattr(ex, "target_class", ex.top_class)
        ms = getattr(ex, "elapsed_ms", None)
        took = f", computed in {ms:.0f} ms" if ms else ""
        self.info.setText(
            f"Grad-CAM: where the model looked for {display_name(target)} "
            f"({ex.probabilities.get(target, ex.confidence):.2f})"
        )
        self.info.setToolTip(f"Model {ex.model_version}{took}")

    def _on_failed(self, kind: str, request: int, message: str) -> None:
        if kind in ("label", "undo", "redo"):
            self._saving = False
            if kind != "label":
                self._session.failed(kind, self._writing)
            self._update_actions()
            what = {"label": "Label NOT saved", "undo": "Undo failed", "redo": "Redo failed"}
            self.status.setText(f"{what[kind]}: {message}")
            return
        if request != self._request:
            self.stale_dropped += 1
            return
        if kind == "photo":
            self.view.show_message(f"Cannot show this photo:\n{message}")
        self.info.setText(f"{'Grad-CAM' if kind == 'explain' else 'Loading'} failed: {message}")

    # --- overlay and zoom ----------------------------------------------------------------

    def _on_opacity(self, value: int) -> None:
        self.opacity_value.setText(f"{value}%")
        self.view.set_opacity(value / 100.0)

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_box.setChecked(on)

    def set_opacity(self, opacity: float) -> None:
        """The overlay opacity in [0, 1] (Settings' default); recomposites only."""
        self.opacity.setValue(round(min(1.0, max(0.0, opacity)) * 100))

    def set_colormap(self, name: str) -> None:
        """Heatmap colours (Settings). The image on show is recoloured from its stored heatmap
        on a worker, without running Grad-CAM again; later images use ``name`` directly."""
        self.services.colormap = name
        ex = self._last_explanation
        if ex is not None:
            task = rw.Task(self._relay, "recolour", self._request, lambda: rw.recolour(ex, name))
            self.services.pool.start(task, SHOW_PRIORITY)

    def reset_explainer(self) -> None:
        """Forget the cached explainer (the active model changed); the next image reloads it."""
        self._explainer = rw.ExplainerCache(self.services.explainer)

    # --- labels --------------------------------------------------------------------------

    def _label_index(self, index: int) -> None:
        classes = self.labels.classes()
        if index < len(classes):
            self.label_current(classes[index])

    def label_current(self, label: str) -> None:
        """Save ``label`` for the image on show (with the note), then ask for the next image."""
        item = self._item
        if item is None or self._saving:
            return
        note, who, store = self.note.text().strip(), self.services.who(), self.services.store
        target = (item.sha256, item_name(item))
        self._write("label", target, lambda: rw.save_label(store, item.sha256, label, who, note))
        self.status.setText(f"Saving {display_name(label)}...")

    def undo(self) -> None:
        """Take back the last label given in this session (else the one on the image on show);
        the store records an undo event."""
        target = self._session.undo_target(self._on_show())
        if target is not None and not self._saving:
            who, store = self.services.who(), self.services.store
            self._write("undo", target, lambda: rw.undo_label(store, target[0], who))

    def redo(self) -> None:
        """Restore the label the last undo took back (recorded as a label event)."""
        target = self._session.redo_target(self._on_show())
        if target is not None and not self._saving:
            who, store = self.services.who(), self.services.store
            self._write("redo", target, lambda: rw.redo_label(store, target[0], who))

    def _on_show(self) -> tuple[str, str] | None:
        return None if self._item is None else (self._item.sha256, item_name(self._item))

    def _write(self, kind: str, target: tuple[str, str], fn: Any) -> None:
        self._saving, self._writing = True, target
        self._update_actions()
        self.services.pool.start(rw.Task(self._relay, kind, self._request, fn), SAVE_PRIORITY)

    def _on_saved(self, kind: str, request: int, now: str | None) -> None:
        target, self._saving = self._writing, False
        self._session.saved(kind, target)
        self._update_actions()
        self.labelled.emit(target[0], now or "")
        on_show = self._item is not None and self._item.sha256 == target[0]
        if kind == "label" and request != self._request:
            return  # saved for an image no longer shown: the gallery still hears of it
        if not on_show:  # undo/redo of the previous image: say which, and offer to show it
            self.status.setText(f"{kind.capitalize()} on {target[1]}: now {display_name(now)}")
            self.reveal.emit(target[0])
            return
        if kind == "label":
            self.note.clear()
        self._show_label(now)
        done = "Saved" if kind == "label" else f"{kind.capitalize()} saved; label now"
        self.status.setText(f"{done} {display_name(now)} for {target[1]}")
        self._load_meta()
        if kind == "label":
            self.navigate.emit("next")

    # --- detach --------------------------------------------------------------------------

    def toggle_detached(self) -> None:
        """F11: the panel as its own maximised window for a large photo, and back."""
        if self.isWindow() and self.parentWidget() is not None:
            self.setWindowFlag(Qt.WindowType.Window, False)
            self.show()
        elif self.parentWidget() is not None:
            self.setWindowFlag(Qt.WindowType.Window, True)
            self.setWindowTitle(f"Review - {self.title.text()}")
            self.showMaximized()
        else:
            self.showNormal() if self.isMaximized() else self.showMaximized()
