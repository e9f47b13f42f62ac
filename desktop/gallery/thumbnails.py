"""Thumbnails for the gallery: decoded on a thread pool, newest request first, kept in an LRU.

The engine's ThumbnailCache (disk, keyed by SHA-256) does the decoding and caching; this class
only schedules it off the GUI thread and holds the few hundred QPixmaps the view is painting.
Requests are served last-in first-out, so the tiles on screen come before ones scrolled past.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from desktop.services.gallery import ThumbnailCache
from desktop.services.i18n import N_, _
from desktop.services.review import pil_to_qimage

log = logging.getLogger(__name__)

#: What a tile says instead of a thumbnail once its photo was forgotten.
FORGOTTEN = N_("photo forgotten")  # kept in English (a key); translated where it is shown


class _Signals(QObject):
    ready = Signal(str, QImage)
    failed = Signal(str, str)


#: Finds the file of a photo; called on the worker thread (it may look on disk).
Locate = Callable[[], str | None]


class _Job(QRunnable):
    def __init__(
        self, cache: ThumbnailCache, signals: _Signals, sha: str, locate: Locate, size: int
    ) -> None:
        super().__init__()
        self.cache, self.signals, self.sha, self.size = cache, signals, sha, size
        self.locate = locate

    def run(self) -> None:
        try:
            path = self.locate()
            if path is None:
                raise FileNotFoundError(_("file not found (moved or deleted?)"))
            img = self.cache.get(path, sha256=self.sha, size=self.size)
            self.signals.ready.emit(self.sha, pil_to_qimage(img))
        except Exception as exc:  # unreadable/moved file: the tile says so, nothing crashes
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            self.signals.failed.emit(self.sha, str(reason))


class ThumbnailLoader(QObject):
    """``pixmap(sha, locate)`` returns a cached pixmap or None and queues a load (``locate``
    finds the photo's file on the worker; None: there is none to load); ``ready(sha)``
    says when one arrived. ``failed`` remembers files without a preview so they are not retried."""

    ready = Signal(str)

    def __init__(
        self, cache: ThumbnailCache, size: int = 160, max_items: int = 1500, threads: int = 2
    ) -> None:
        super().__init__()
        self.cache = cache
        self.size = size
        self.max_items = max_items
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._inflight: set[str] = set()
        self.failed: dict[str, str] = {}
        self._ticket = 0
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._signals.failed.connect(self._on_failed)
        self.loaded = 0  # thumbnails delivered (benchmarks read it)
        self.first_ready_at: float | None = None

    def set_size(self, size: int) -> None:
        """A new tile size: drop what was made for the old one."""
        if size != self.size:
            self.size = size
            self.clear()

    def clear(self) -> None:
        self.pool.clear()
        self._pixmaps.clear()
        self._inflight.clear()
        self.failed.clear()

    def pixmap(self, sha: str, locate: Locate | None) -> QPixmap | None:
        pm = self._pixmaps.get(sha)
        if pm is not None:
            self._pixmaps.move_to_end(sha)
            return pm
        if locate is not None and sha not in self._inflight and sha not in self.failed:
            self._inflight.add(sha)
            self._ticket += 1
            job = _Job(self.cache, self._signals, sha, locate, self.size)
            self.pool.start(job, self._ticket % 2_000_000_000)
        return None

    def forget(self, sha: str) -> bool:
        """Drop a forgotten photo's pixmap and never load it again (its pixels must not come
        back). True when a decode of it is still running: it may yet write a disk thumbnail,
        so the caller waits for :meth:`wait` before deleting the cached files."""
        self._pixmaps.pop(sha, None)
        self.failed[sha] = FORGOTTEN
        return sha in self._inflight

    def _on_ready(self, sha: str, img: QImage) -> None:
        self._inflight.discard(sha)
        if self.failed.get(sha) == FORGOTTEN:  # decoded just before it was forgotten
            return
        self._pixmaps[sha] = QPixmap.fromImage(img)
        while len(self._pixmaps) > self.max_items:
            self._pixmaps.popitem(last=False)
        self.loaded += 1
        if self.first_ready_at is None:
            self.first_ready_at = time.perf_counter()
        self.ready.emit(sha)

    def _on_failed(self, sha: str, reason: str) -> None:
        self._inflight.discard(sha)
        self.failed[sha] = reason
        log.info("no thumbnail for %s: %s", sha[:12], reason)
        self.ready.emit(sha)

    def wait(self, msecs: int = 5000) -> bool:
        return self.pool.waitForDone(msecs)
