"""The gallery's list model: the case store's review queue, paged with keyset cursors.

Pages are fetched on a worker thread (``fetchMore`` when the view scrolls near the end), so a
10,000-image run costs one small query per screenful. Thumbnails are asked for only when a tile
is painted (``ThumbRole``) and arrive from :class:`desktop.gallery.thumbnails.ThumbnailLoader`. Every
query carries a generation number: a page that arrives after the filter changed is dropped.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QThreadPool,
    Signal,
)

from desktop.gallery.thumbnails import FORGOTTEN, ThumbnailLoader
from desktop.gallery.tile_text import tile_text
from desktop.services import gallery as ea
from desktop.services.i18n import _, format_datetime, format_percent
from desktop.services.store import DEFAULT_REFERRAL_RULE, ReferralRule, ReviewItem, Store
from desktop.services.tasks import Reporter, run_task
from desktop.services.vocabulary import long_name

_Index = QModelIndex | QPersistentModelIndex
log = logging.getLogger(__name__)
_START = ("start",)  # cursor before the first page


class GalleryModel(QAbstractListModel):
    """Rows are engine ``ReviewItem``s in the query's order."""

    ItemRole = Qt.ItemDataRole.UserRole + 1
    ThumbRole = Qt.ItemDataRole.UserRole + 2
    ReferralRole = Qt.ItemDataRole.UserRole + 3
    ThumbErrorRole = Qt.ItemDataRole.UserRole + 4
    TileTextRole = Qt.ItemDataRole.UserRole + 5  # tile_text.TileText: what the tile says

    loadingChanged = Signal(bool)
    pageArrived = Signal(int)  # rows loaded so far
    countsArrived = Signal(object)  # {show filter: photos}, re-read with each first page/refresh

    def __init__(
        self,
        store: Store,
        pool: QThreadPool,
        thumbs: ThumbnailLoader,
        *,
        page_size: int = 200,
        reporter: Reporter | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.pool = pool
        self.thumbs = thumbs
        self.page_size = page_size
        self.reporter = reporter
        self.query = ea.GalleryQuery()
        self.rule: ReferralRule = DEFAULT_REFERRAL_RULE
        self._items: list[ReviewItem] = []
        self._rows: dict[str, int] = {}
        self._cursor: ea.Cursor = _START
        self._generation = 0
        self._loading = False
        self._refresh_wanted = False
        thumbs.ready.connect(self._on_thumb)

    # --- Qt model API --------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        name = os.path.basename(item.path or "") or item.sha256[:12]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == self.ItemRole:
            return item
        if role == self.ThumbRole:
            store = self.store  # the file is looked for on the loader's thread, not here
            locate = (lambda: ea.photo_path(store, item)) if _has_file(item) else None
            return self.thumbs.pixmap(item.sha256, locate)
        if role == self.ThumbErrorRole:
            return self.thumbs.failed.get(item.sha256) or (None if _has_file(item) else FORGOTTEN)
        if role == self.ReferralRole:
            return ea.is_referral(item, self.rule)
        if role == self.TileTextRole:
            return tile_text(item)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return " · ".join([name, *tile_text(item).lines()])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, name)
        return None

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._cursor is not None and not self._loading

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008
        if self.canFetchMore(parent):
            self._request(limit=self.page_size, after=self._cursor, append=True)

    # --- what the window calls ------------------------------------------------------------

    def set_store(self, store: Store) -> None:
        self.store = store
        self.thumbs.clear()
        self.set_query(self.query)

    def set_rule(self, rule: ReferralRule) -> None:
        """A new referral rule: flags are recomputed when tiles repaint."""
        self.rule = rule
        if self._items:
            self.dataChanged.emit(self.index(0), self.index(len(self._items) - 1))

    def set_query(self, query: ea.GalleryQuery) -> None:
        """Show another filter/sort/search: start again from the first page."""
        self.query = query
        self._generation += 1
        self.beginResetModel()
        self._items, self._rows = [], {}
        self._cursor = _START
        self._loading = False
        self.endResetModel()
        self.fetchMore()

    def refresh(self) -> None:
        """Re-read the rows already shown (new results, new labels) without losing the place."""
        if self._loading:
            self._refresh_wanted = True
            return
        limit = max(self.page_size, len(self._items))
        self._request(limit=limit, after=None, append=False)

    def item(self, row: int) -> ReviewItem | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, sha256: str) -> int:
        return self._rows.get(sha256, -1)

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def complete(self) -> bool:
        """Every row of the query is loaded."""
        return self._cursor is None and not self._loading

    # --- internals ------------------------------------------------------------------------

    def _request(self, *, limit: int, after: ea.Cursor, append: bool) -> None:
        gen, store, query = self._generation, self.store, self.query
        cursor = None if after is _START else after
        self._set_loading(True)
        if cursor is None:  # a new query, or new results or labels: the filters' counts too
            self._request_counts(gen, store, query)

        def fetch() -> tuple[list[ReviewItem], ea.Cursor]:
            return ea.fetch_page(store, query, limit=limit, after=cursor)

        def done(result: tuple[list[ReviewItem], ea.Cursor]) -> None:
            if gen != self._generation:
                return
            self._set_loading(False)
            if append:
                self._append(*result)
            else:
                self._replace(*result)
            self.pageArrived.emit(len(self._items))
            if self._refresh_wanted:
                self._refresh_wanted = False
                self.refresh()

        def failed(exc: BaseException) -> None:
            if gen == self._generation:
                self._set_loading(False)
                self._cursor = None
            if self.reporter is not None:
                self.reporter.report("Could not read the gallery from the case store", exc)

        run_task(self.pool, fetch, done, on_error=failed)

    def _request_counts(self, gen: int, store: Store, query: ea.GalleryQuery) -> None:
        def done(counts: dict[str, int]) -> None:
            if gen == self._generation:
                self.countsArrived.emit(counts)

        def failed(exc: BaseException) -> None:  # the page's own read reports a broken store
            log.warning("counting the photos of each filter failed", exc_info=exc)

        run_task(self.pool, lambda: ea.filter_counts(store, query), done, on_error=failed)

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.loadingChanged.emit(value)

    def _append(self, items: list[ReviewItem], cursor: ea.Cursor) -> None:
        fresh = [i for i in items if i.sha256 not in self._rows]
        if fresh:
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            for n, it in enumerate(fresh):
                self._rows[it.sha256] = first + n
            self._items.extend(fresh)
            self.endInsertRows()
        self._cursor = cursor

    def _replace(self, items: list[ReviewItem], cursor: ea.Cursor) -> None:
        old = [i.sha256 for i in self._items]
        new = [i.sha256 for i in items]
        if new[: len(old)] == old:  # same order, maybe more rows: update in place, append
            if old:
                self._items[: len(old)] = items[: len(old)]
                self.dataChanged.emit(self.index(0), self.index(len(old) - 1))
            self._append(items[len(old) :], cursor)
            return
        self.beginResetModel()  # the view keeps its current image and scroll position
        self._items = list(items)
        self._rows = {it.sha256: n for n, it in enumerate(self._items)}
        self._cursor = cursor
        self.endResetModel()

    def _on_thumb(self, sha: str) -> None:
        row = self._rows.get(sha)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [self.ThumbRole])

    def _tooltip(self, item: ReviewItem, name: str) -> str:
        cls = long_name(item.top_class)
        where = _("(file not on this computer)") if _has_file(item) else f"({_(FORGOTTEN)})"
        lines = [f"<b>{name}</b>", item.path or where]
        if item.current_label:
            lines.append(_("Clinician: {label}").format(label=long_name(item.current_label)))
        for r in item.readings:  # a disputed photo: each reader's label, by whom, when
            when = format_datetime(r.at.astimezone())
            lines.append(
                _("Disputed: {label} by {who}, {when}").format(
                    label=long_name(r.label), who=r.who, when=when
                )
            )
        share = format_percent(item.confidence)
        lines.append(_("Model: {cls} ({share})").format(cls=cls, share=share))
        version = item.model_version[:12] if item.model_version else "?"
        name = item.model_name or _("model")
        model = f"{name}@{version}"
        lines.append(_("Screened by model {model}").format(model=model))
        return "<br>".join(_esc(x) if i else x for i, x in enumerate(lines))


def _has_file(item: ReviewItem) -> bool:
    """Whether the store still knows a file of the photo (a forgotten one has neither)."""
    return bool(item.path or item.stored_path)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def next_row(model: GalleryModel, row: int, where: str) -> int:
    """The row to move to for a review-panel request, or -1 when there is none.

    ``next`` / ``prev``: the neighbours in the current order; ``unreviewed``: the next image
    without a label (wrapping round); ``uncertain``: the unreviewed image the model is least sure
    of (lowest confidence), other than the current one."""
    n = model.rowCount()
    if where == "next":
        return row + 1 if row + 1 < n else -1
    if where == "prev":
        return row - 1 if row > 0 else -1
    if where == "unreviewed":
        for r in [*range(row + 1, n), *range(0, max(row, 0))]:
            if model.item(r).current_label is None:
                return r
        return -1
    if where == "uncertain":
        todo = [r for r in range(n) if r != row and model.item(r).current_label is None]
        return min(todo, key=lambda r: model.item(r).confidence) if todo else -1
    raise ValueError(f"unknown navigation {where!r}")
