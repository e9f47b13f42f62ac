"""The review panel: one photo, its Grad-CAM, its probabilities, and the clinician's label.

The panel only wires widgets to a :class:`desktop.services.review.ReviewService`. Every decode,
Grad-CAM and store write runs off the GUI thread; each answer carries the request id of the image it
was started for, and an answer for an image no longer shown is dropped, so the panel never shows
another image's overlay. Single-key shortcuts are disabled while a text field has focus.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.review.actions import ReviewActions
from desktop.review.gradcam import GradCam
from desktop.review.header import ReviewHeader, item_name, mark_text
from desktop.review.history import HistoryView
from desktop.review.image_view import ImageView
from desktop.review.label_bar import REFER, LabelBar
from desktop.review.label_session import LabelSession
from desktop.review.messages import (
    cannot_show_text,
    failed_text,
    loading_text,
    saved_text,
    saving_text,
)
from desktop.review.note_field import NoteField
from desktop.review.overlay_bar import OverlayBar
from desktop.review.prob_chart import ProbChart
from desktop.services.i18n import _
from desktop.services.review import ReviewService
from desktop.services.store import ReviewItem
from desktop.services.vocabulary import CLASS_ORDER

if TYPE_CHECKING:
    from desktop.services.review import ImageExplanation


class ReviewPanel(QWidget):
    """Shows one ``ReviewItem``; its engine work goes through a :class:`ReviewService`.

    Wiring: ``navigate`` -> the gallery's selection, ``labelled`` -> a gallery refresh,
    ``reveal`` -> select that image, ``review_actions()`` -> the Review menu, the gallery's
    current item -> ``show_item``; settings: ``set_colormap``, ``set_opacity``."""

    labelled = Signal(str, str)  # sha256, label now in force ("" when none) after label/undo/redo
    navigate = Signal(str)  # "next" | "prev" | "unreviewed" | "uncertain"
    reveal = Signal(str)  # sha256 of an image an undo/redo changed while another was on show

    def __init__(self, services: ReviewService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self._item: ReviewItem | None = None
        self._request = 0
        self._saving = False
        self._writing: tuple[str, str] = ("", "")  # the image of the label write in flight
        self._session = LabelSession()
        self._heat_pending: QImage | None = None
        self.stale_dropped = 0  # answers dropped because their image is no longer shown
        services.done.connect(self._on_done)
        services.failed.connect(self._on_failed)
        self._build_ui()
        self.gradcam = GradCam(self)
        services.legend(services.colormap)
        self.actions = ReviewActions(self)
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
        self.view.setAccessibleName(_("Photo with Grad-CAM overlay"))
        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.header)
        top_layout.addWidget(self.view, 1)
        self.overlay_bar = OverlayBar(self.view, self.services.opacity, top)
        self.overlay_box, self.opacity = self.overlay_bar.overlay_box, self.overlay_bar.opacity
        self.opacity_value = self.overlay_bar.opacity_value
        top_layout.addWidget(self.overlay_bar)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self._build_lower())
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    def _build_lower(self) -> QWidget:
        lower = QWidget(self)
        layout = QVBoxLayout(lower)
        layout.setContentsMargins(0, 0, 0, 0)
        self.info = QLabel(self)  # the photo and its Grad-CAM
        self.info.setWordWrap(True)
        self.status = QLabel(self)  # label saves, undo, redo: never overwritten by Grad-CAM news
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_("Label status"))
        self.chart = ProbChart(self)
        self.labels = LabelBar(self)
        self.labels.set_classes(list(CLASS_ORDER))
        self.labels.chosen.connect(self.label_current)
        self.note = NoteField(self.view, self)
        self.history = HistoryView(self)
        for widget in (self.info, self.chart, self.labels, self.status, self.note):
            layout.addWidget(widget)
        layout.addWidget(QLabel(_("History"), self))
        layout.addWidget(self.history)
        lower.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        return lower

    def review_actions(self) -> list[QAction]:
        """The panel's actions with their shortcuts, for the main window's Review menu."""
        return list(self.actions.all)

    def update_actions(self) -> None:
        has_item = self._item is not None
        self.actions.update(has_item, self._saving)
        self.labels.set_busy(self._saving or not has_item)

    # --- showing an item -----------------------------------------------------------------

    def current_item(self) -> ReviewItem | None:
        return self._item

    def show_item(self, item: ReviewItem | None) -> None:
        """Show ``item`` (an engine.store.ReviewItem) or, for ``None``, the empty state.

        The image on show again (a refreshed queue row) keeps its photo and Grad-CAM; only the
        label, marks and history are re-read."""
        item = self._session.landed(item)
        if item is not None and self._item is not None and item.sha256 == self._item.sha256:
            self._item = item
            self._show_label(item.current_label)
            self._load_meta()
            return
        self._request += 1
        self.gradcam.reset()
        self._item, self._heat_pending = item, None
        self.note.clear()
        self.info.clear()
        if item is None:
            self._show_empty()
        else:
            self._show_header(item)
            self.view.show_message(loading_text(item_name(item)))
            self._start_loading(item)
        self.update_actions()

    def _show_empty(self) -> None:
        self.header.show_empty()
        self.view.show_message(_("No image selected"))
        self.chart.set_probabilities(None)
        self.labels.set_current(None)
        self.history.set_rows([])

    def _show_header(self, item: ReviewItem) -> None:
        self.header.show_item(item)
        classes = [c for c in item.probabilities if c != REFER] or list(CLASS_ORDER)
        self.labels.set_classes(classes)
        self.actions.retitle(self.labels.classes())
        self.chart.set_probabilities(item.probabilities)
        self.labels.set_current(item.current_label)
        self.history.set_rows([])

    def _show_label(self, label: str | None) -> None:
        self.header.show_label(self._item, label)
        self.labels.set_current(label)

    def request_id(self) -> int:
        """The id of the image on show; answers carrying another id are dropped."""
        return self._request

    def _start_loading(self, item: ReviewItem) -> None:
        request = self._request
        self.gradcam.computing()
        self.services.show(item, request, still_wanted=lambda: self._request == request)

    def _load_meta(self) -> None:
        """Re-read the history and the referral flag of the image on show."""
        if self._item is not None:
            self.services.read_meta(self._item, self._request)

    def wait_idle(self, msecs: int = 30_000) -> bool:
        """Wait for this panel's background work (closing the app, tests)."""
        return self.services.wait_idle(msecs)

    # --- answers from workers ------------------------------------------------------------

    def _on_done(self, kind: str, request: int, result: Any) -> None:
        if kind in ("label", "undo", "redo"):
            self._on_saved(kind, request, result)
            return
        if kind == "legend":
            self.gradcam.show_legend(*result)
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
            rows, referral, others, label = result
            if self._item is not None and label != self._item.current_label and not self._saving:
                self._item = replace(self._item, current_label=label)  # the store's, not the row's
                self._show_label(label)
            self.history.set_rows(rows)
            self.header.set_marks(mark_text(self._item, referral))
            self.header.set_others(others)

    def _show_heat(self, heat: QImage) -> None:
        if self.view.has_photo():
            self.view.set_heat(heat)
        else:
            self._heat_pending = heat

    def _show_photo(self, image: QImage, first: bool) -> None:
        if first:
            self.view.set_photo(image)
        else:
            self.view.upgrade_photo(image)
        if self._heat_pending is not None:
            self.view.set_heat(self._heat_pending)
            self._heat_pending = None

    def _show_explanation(self, ex: ImageExplanation, heat: QImage) -> None:
        self._show_heat(heat)
        self.gradcam.show(ex)

    def _on_failed(self, kind: str, request: int, message: str) -> None:
        if kind in ("label", "undo", "redo"):
            self._saving = False
            if kind != "label":
                self._session.failed(kind, self._writing)
            self.update_actions()
            self.status.setText(failed_text(kind, message))
            return
        if request != self._request:
            self.stale_dropped += 1
            return
        if kind == "photo":
            self.view.show_message(cannot_show_text(message))
        self.info.setText(failed_text("explain" if kind == "explain" else "load", message))

    # --- overlay and zoom ----------------------------------------------------------------

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_box.setChecked(on)

    def set_opacity(self, opacity: float) -> None:
        """The overlay opacity in [0, 1] (Settings' default); recomposites only."""
        self.overlay_bar.set_opacity(opacity)

    def set_colormap(self, name: str) -> None:
        """Heatmap colours (Settings). The image on show is recoloured from its stored heatmap
        on a worker, without running Grad-CAM again; later images use ``name`` directly."""
        self.gradcam.set_colormap(name)

    # --- labels --------------------------------------------------------------------------

    def label_index(self, index: int) -> None:
        classes = self.labels.classes()
        if index < len(classes):
            self.label_current(classes[index])

    def label_current(self, label: str) -> None:
        """Save ``label`` for the image on show (with the note), then ask for the next image."""
        item = self._item
        if item is None or self._saving:
            return
        self._write("label", (item.sha256, item_name(item)), label, self.note.text().strip())
        self.status.setText(saving_text(label))

    def undo(self) -> None:
        """Take back the last label given in this session (else the one on the image on show);
        the store records an undo event."""
        target = self._session.undo_target(self._on_show())
        if target is not None and not self._saving:
            self._write("undo", target)

    def redo(self) -> None:
        """Restore the label the last undo took back (recorded as a label event)."""
        target = self._session.redo_target(self._on_show())
        if target is not None and not self._saving:
            self._write("redo", target)

    def _on_show(self) -> tuple[str, str] | None:
        return None if self._item is None else (self._item.sha256, item_name(self._item))

    def _write(self, kind: str, target: tuple[str, str], label: str = "", note: str = "") -> None:
        self._saving, self._writing = True, target
        self.update_actions()
        self.services.write(kind, target[0], self._request, label, note)

    def _on_saved(self, kind: str, request: int, now: str | None) -> None:
        target, self._saving = self._writing, False
        self._session.saved(kind, target)
        self.update_actions()
        self.labelled.emit(target[0], now or "")
        on_show = self._item is not None and self._item.sha256 == target[0]
        if kind == "label" and request != self._request:
            return  # saved for an image no longer shown: the gallery still hears of it
        if not on_show:  # undo/redo of the previous image: say which, and offer to show it
            self.status.setText(saved_text(kind, now, target[1], on_show=False))
            self._session.landing = (target[0], now)
            self.reveal.emit(target[0])
            return
        if kind == "label":
            self.note.clear()
        self._item = replace(self._item, current_label=now)
        self._show_label(now)
        self.status.setText(saved_text(kind, now, target[1]))
        self._load_meta()
        if kind == "label":
            self.navigate.emit("next")
