"""Gallery thumbnails, cached on disk by the SHA-256 of the photo (a moved photo keeps its
thumbnail, an edited one gets a new one).

Files are ``<root>/<sha[:2]>/<sha256>-<size>.jpg``, written to a temporary file and renamed into
place, so two workers (threads or processes) making the same thumbnail at once both succeed and
a reader never sees half a file. Cached files hold pixels only: no EXIF (GPS, camera serial,
dates) and no ICC profile, since patient metadata must not spread. The cache is bounded: above
``max_bytes`` the least recently used files go first.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from PIL import Image

from engine.atomic import atomic_open
from engine.hashes import SHA256_HEX
from engine.images import load_preview, sha256_file

if TYPE_CHECKING:
    from engine.store.forget import ForgetHook, ForgetOutcome


class _ForgetSubject(Protocol):
    @property
    def on_forget(self) -> list[ForgetHook]: ...


_Store = TypeVar("_Store", bound=_ForgetSubject)

DEFAULT_MAX_BYTES = 256 * 2**20
_STALE_TMP_S = 3600.0


class ThumbnailCache:
    """Thumbnails of photos, made on demand (call from worker threads)."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        quality: int = 85,
    ) -> None:
        if root is None:
            from engine.paths import user_data_dir

            root = user_data_dir() / "thumbnails"
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.quality = int(quality)
        self._lock = threading.Lock()
        self._bytes: int | None = None  # running estimate; recounted when pruning

    def file_for(self, sha256: str, size: int) -> Path:
        sha = _check_sha(sha256)
        return self.root / sha[:2] / f"{sha}-{int(size)}.jpg"

    def get(
        self, path: str | os.PathLike[str], sha256: str | None = None, size: int = 160
    ) -> Image.Image:
        """The thumbnail (RGB, long side <= ``size``) of ``path``, from the cache when there.

        Raises engine.images.ImageLoadError (file and reason) when the photo cannot be read."""
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        sha = sha256 if sha256 is not None else sha256_file(path)
        target = self.file_for(sha, size)
        cached = self._read(target)
        if cached is not None:
            return cached
        thumb = load_preview(path, max_side=size)
        thumb.info.clear()
        self._write(target, thumb)
        return thumb

    def _read(self, target: Path) -> Image.Image | None:
        try:
            with Image.open(target) as im:
                im.load()
                img = im.convert("RGB")
        except FileNotFoundError:
            return None
        except Exception:  # a damaged cache file is only a cache miss: make it again
            target.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(target)  # recently used: pruned last
        img.info.clear()
        return img

    def _write(self, target: Path, thumb: Image.Image) -> None:
        try:
            with atomic_open(target, "wb") as fh:  # engine.atomic: temp, fsync, rename
                thumb.save(fh, "JPEG", quality=self.quality)  # no exif=/icc_profile=: none
            written = target.stat().st_size
        except OSError:  # a full or read-only disk costs the cache, never the thumbnail
            return
        with self._lock:
            if self._bytes is None:
                self._bytes = self.total_bytes()
            else:
                self._bytes += written
            over = self._bytes > self.max_bytes
        if over:
            self.prune()

    def total_bytes(self) -> int:
        total = 0
        for f in self._files():
            try:
                total += f.stat().st_size
            except OSError:  # deleted by another writer's prune since it was listed
                continue
        return total

    def _files(self) -> list[Path]:
        out = []
        for f in self.root.glob("??/*.jpg"):
            try:
                if f.is_file():
                    out.append(f)
            except OSError:
                continue
        return out

    def prune(self, target_bytes: int | None = None) -> int:
        """Delete least recently used files until the cache holds at most ``target_bytes``
        (default 80% of ``max_bytes``); also stale temporary files. Returns files deleted."""
        goal = int(self.max_bytes * 0.8) if target_bytes is None else target_bytes
        now = time.time()
        for tmp in self.root.glob("??/.*.tmp"):
            try:
                if now - tmp.stat().st_mtime > _STALE_TMP_S:
                    tmp.unlink(missing_ok=True)
            except OSError:
                continue
        entries = []
        for f in self._files():
            try:
                st = f.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, f))
        entries.sort(key=lambda e: e[0])
        total = sum(e[1] for e in entries)
        deleted = 0
        for _, size, f in entries:
            if total <= goal:
                break
            f.unlink(missing_ok=True)
            total -= size
            deleted += 1
        with self._lock:
            self._bytes = total
        return deleted

    def forget(self, sha256: str) -> int:
        """Remove every cached size of one photo (e.g. when the photo is forgotten)."""
        sha = _check_sha(sha256)
        removed = 0
        for f in (self.root / sha[:2]).glob(f"{sha}-*.jpg"):
            f.unlink(missing_ok=True)
            removed += 1
        with self._lock:
            self._bytes = None
        return removed


def _check_sha(sha256: str) -> str:
    sha = str(sha256).strip().lower()
    if not SHA256_HEX.match(sha):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha


#: Caches under the data folder that may hold other pictures derived from a photo, keyed by its
#: SHA-256 (files named ``<sha256>...``).
PREVIEW_DIRS = ("previews", "explanations")


def forget_hook(
    data_dir: str | os.PathLike[str] | None = None, cache: ThumbnailCache | None = None
) -> ForgetHook:
    """A hook for ``Store.on_forget``: when the store forgets a photo, its thumbnails (in the
    default cache under ``data_dir``, default the user data dir, and in ``cache`` when the caller
    keeps one elsewhere) and its previews go too, each noted in the forget outcome. The store
    knows nothing of thumbnails, so whoever shows them registers this."""

    def forget_derived_pictures(sha: str, outcome: ForgetOutcome) -> None:
        from engine.paths import user_data_dir
        from engine.store.forget import files_named_for, remove_paths

        root = Path(data_dir) if data_dir is not None else user_data_dir()
        caches = [ThumbnailCache(root=root / "thumbnails")]
        if cache is not None and cache.root != caches[0].root:
            caches.append(cache)
        targets: list[Path] = []
        for thumbs in caches:
            before = list((thumbs.root / sha[:2]).glob(f"{sha}*"))
            thumbs.forget(sha)
            outcome.removed += [f for f in before if not f.exists()]
            targets += files_named_for(sha, thumbs.root)
        for name in PREVIEW_DIRS:
            targets += files_named_for(sha, root / name)
        remove_paths(targets, outcome)

    return forget_derived_pictures


def clean_on_forget(store: _Store, cache: ThumbnailCache | None = None) -> _Store:
    """Register :func:`forget_hook` on ``store`` (anything with an ``on_forget`` list, such as
    engine.store.Store) and return it: open a store this way wherever thumbnails are shown."""
    store.on_forget.append(forget_hook(cache=cache))
    return store
