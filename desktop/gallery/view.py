"""The virtualised thumbnail grid.

A QListView in icon mode with uniform tile sizes: Qt lays out and paints only the visible tiles,
so 10,000 images scroll like 100. Tiles are painted by
:class:`desktop.gallery.tile_delegate.TileDelegate`. The selected tile gets a thick outline.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from desktop.gallery.model import GalleryModel
from desktop.gallery.tile_delegate import TileDelegate
from desktop.services.i18n import _
from desktop.services.store import ReviewItem

_Index = QModelIndex | QPersistentModelIndex


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
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # patient, visit
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setSpacing(4)
        self.setWrapping(True)
        self.setMouseTracking(True)
        self.setAccessibleName(_("Gallery"))
        self.delegate = TileDelegate(thumb_size, self)
        self.setItemDelegate(self.delegate)
        self.empty_text = _("No images match this filter.")
        self._keep: tuple[str | None, int] = (None, 0)
        self._pending: str | None = None
        self._announce: str | None = None  # asked for by select_sha: the panel must hear of it

    def setModel(self, model: GalleryModel) -> None:  # noqa: N802 (Qt API)
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

    def current_item(self) -> ReviewItem | None:
        idx = self.currentIndex()
        return idx.data(GalleryModel.ItemRole) if idx.isValid() else None

    def selected_items(self) -> list[ReviewItem]:
        """The selected photos (Ctrl/Shift-click), else the current one."""
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        items = [self.model().index(r, 0).data(GalleryModel.ItemRole) for r in rows]
        current = self.current_item()
        return [i for i in items if i is not None] or ([current] if current else [])

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
        self._pending = self._announce = sha256
        self.setCurrentIndex(self.model().index(-1, 0))
        return False

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._announce = None
        self.currentItemChanged.emit(
            current.data(GalleryModel.ItemRole) if current.isValid() else None
        )

    def _remember(self) -> None:
        item = self.current_item()
        self._keep = (item.sha256 if item else self._pending, self.verticalScrollBar().value())

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
        if self._announce == sha:  # asked for while not loaded: the panel shows nothing yet
            self._announce = None
            self.currentItemChanged.emit(self.current_item())
        return True

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0 and not model.loading:
            p = QPainter(self.viewport())
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
