"""Atomic file writes, the one way PoxScreen writes a file a crash must not leave half-written.

Models, model copies, reports, splits, screening CSVs, CSV exports, image-store copies and image
exports all go through :func:`atomic_open` / :func:`atomic_path`: the bytes go to a temporary
file beside the target (``.incoming-<name>.<random>.tmp``), are flushed and fsynced through the
*writable* handle (Windows refuses ``fsync`` on a read-only one), renamed over the target, and
the folder is fsynced so the rename itself survives a power cut (POSIX; a no-op elsewhere).
Temporaries left by a ``kill -9`` are removed later by :func:`remove_stale_temporaries`.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_PREFIX = ".incoming-"
TEMP_SUFFIX = ".tmp"
#: A temporary untouched for this long belongs to no live writer (copies rewrite it continuously).
STALE_TEMP_SECONDS = 15 * 60


class WriteFailed(OSError):
    """A file could not be written; the message names the file and the real cause."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def os_cause(exc: OSError) -> str:
    """The real cause of a failed write or open, in words (disk full is not "unreadable")."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full" if code == errno.ENOSPC else "the disk quota is used up"
    if code == errno.EROFS:
        return "the file system is read-only"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (read-only file or folder?)"
    if code == errno.EISDIR or isinstance(exc, IsADirectoryError):
        return "it is a folder"
    if code == errno.ENOENT:
        return "the folder does not exist"
    return exc.strerror or str(exc)


def write_failed(target: str | os.PathLike[str], exc: OSError) -> WriteFailed:
    """A WriteFailed for ``target`` that names the cause of ``exc``."""
    if isinstance(exc, WriteFailed):
        return exc
    return WriteFailed(exc.errno, f"{os.fspath(target)}: cannot write: {os_cause(exc)}")


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename in ``folder`` durable (POSIX); silently a no-op where folders cannot be
    opened or synced (Windows, some network file systems)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_beside(target: Path, suffix: str = TEMP_SUFFIX) -> tuple[int, Path]:
    if target.is_dir():
        raise WriteFailed(errno.EISDIR, f"{target}: cannot write: it is a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{target.name[:80]}.", suffix=suffix, dir=target.parent
        )
    except OSError as exc:
        raise write_failed(target, exc) from exc
    return fd, Path(name)


def _commit(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise write_failed(target, exc) from exc
    fsync_dir(target.parent)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces ``path`` in one step.

    On any error (including KeyboardInterrupt) the temporary is removed and ``path`` keeps its
    old content. Creating, syncing and renaming raise :class:`WriteFailed` naming the file and
    the cause; errors raised inside the ``with`` block pass through as they are (use
    :func:`write_failed` to word a failed ``write``).
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open writes; mode {mode!r} has no 'w'")
    target = Path(path)
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            try:
                fh.flush()
                os.fsync(fh.fileno())  # the writable handle: fsync works on Windows too
            except OSError as exc:
                raise write_failed(target, exc) from exc
        _commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = TEMP_SUFFIX) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for writers that need a file name (safetensors,
    matplotlib: give ``suffix=".png"`` where the writer picks the format from it); on success
    it is fsynced and renamed into place, as :func:`atomic_open` does. Stale-temporary cleanup
    finds only names ending in ``.tmp``, so prefer the default suffix."""
    target = Path(path)
    fd, tmp = _temp_beside(target, suffix)
    os.close(fd)
    try:
        yield tmp
        try:
            fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))  # writable: Windows
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_failed(target, exc) from exc
        _commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return Path(path)


def atomic_copy(source: IO[bytes], path: str | os.PathLike[str], on_chunk: Any = None) -> None:
    """Copy an open binary stream to ``path`` atomically; ``on_chunk(bytes)`` sees each chunk
    (to hash while copying) and may raise to abandon the copy."""
    with atomic_open(path, "wb") as out:
        while chunk := source.read(1024 * 1024):  # a read error passes through as it is
            if on_chunk is not None:
                on_chunk(chunk)
            try:
                out.write(chunk)
            except OSError as exc:
                raise write_failed(path, exc) from exc


def remove_stale_temporaries(
    root: str | os.PathLike[str], *, depth: int = 2, older_than: float = STALE_TEMP_SECONDS
) -> int:
    """Delete ``.incoming-*.tmp`` files under ``root`` (up to ``depth`` folders down) that no
    writer has touched for ``older_than`` seconds: leftovers of a killed process. Returns how
    many were removed; unreadable folders are skipped (this runs at start-up, never fails)."""
    base = Path(root)
    now = time.time()
    removed = 0
    patterns = [
        "/".join(["*"] * level + [f"{TEMP_PREFIX}*{TEMP_SUFFIX}"]) for level in range(depth + 1)
    ]
    for pattern in patterns:
        try:
            candidates = list(base.glob(pattern))
        except OSError:
            continue
        for tmp in candidates:
            try:
                if tmp.is_file() and now - tmp.stat().st_mtime > older_than:
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def free_bytes(folder: str | os.PathLike[str]) -> int | None:
    """Free space where ``folder`` (or its nearest existing parent) lives; None when unknown."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None
