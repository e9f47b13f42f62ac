"""App-managed, content-addressed copies of labelled images: ``<root>/ab/cd/<sha256>.<ext>``.

A labelled photo must outlive the USB stick it came from, or retraining breaks. Copies are named by
the SHA-256 of their bytes, so a second copy of the same photo costs nothing, and they are written
to a temporary file, hashed while copying, fsynced and renamed into place: a crash never leaves a
half-written file under a valid name, and a file whose bytes do not match the expected hash is
refused instead of stored.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from engine.store.errors import StoreError

_CHUNK = 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")


def file_ext(path: Path) -> str:
    suffix = path.suffix.lower()
    return suffix if _EXT.match(suffix) else ".img"


class ImageStore:
    """A folder of content-addressed image copies."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def relative_path(self, sha256: str, ext: str) -> str:
        """Where a copy lives, relative to the root (what the database keeps), with ``/``."""
        if not _HEX64.match(sha256):
            raise StoreError(f"not a SHA-256 hex digest: {sha256!r}")
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{ext}"

    def path(self, relative: str) -> Path:
        """The absolute path of a stored copy."""
        return self.root / relative

    def find(self, sha256: str) -> Path | None:
        """An existing copy of these bytes, whatever its extension."""
        folder = self.root / sha256[:2] / sha256[2:4]
        if not folder.is_dir():
            return None
        return next(iter(sorted(folder.glob(f"{sha256}.*"))), None)

    def put(self, source: str | os.PathLike[str], sha256: str) -> str:
        """Copy ``source`` in unless an identical copy is there; return its relative path.

        Raises StoreError when the source cannot be read or its bytes no longer hash to ``sha256``
        (the file changed since it was screened).
        """
        src = Path(source)
        existing = self.find(sha256)
        if existing is not None:
            return existing.relative_to(self.root).as_posix()
        relative = self.relative_path(sha256, file_ext(src))
        copy_verified(src, self.root / relative, sha256)
        return relative


def copy_verified(source: str | os.PathLike[str], target: Path, sha256: str) -> None:
    """Copy atomically (temp file, fsync, rename) and only if the bytes hash to ``sha256``."""
    src = Path(source)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StoreError(f"{target.parent}: cannot write there ({exc})") from exc
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with src.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except OSError as exc:
                raise StoreError(f"{src}: cannot copy it ({exc})") from exc
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise StoreError(
                f"{src}: contents changed since it was recorded (expected sha256 "
                f"{sha256[:12]}..., found {digest.hexdigest()[:12]}...); not copied"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
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
