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
from pathlib import Path

from engine.atomic import (
    WriteFailed,
    atomic_open,
    os_cause,
    remove_stale_temporaries,
    write_failed,
)
from engine.hashes import SHA256_HEX
from engine.store.errors import StoreError, StoreWriteError

_CHUNK = 1024 * 1024
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
        if not SHA256_HEX.match(sha256):
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

    def photo_file(self, sha256: str, path: str | None, stored_path: str | None) -> Path:
        """The one answer to "which file shows this photo": the original where it was screened
        if it is still there, else the copy kept when it was labelled. Raises FileNotFoundError
        saying why: the photo was forgotten (neither is known) or both files are gone."""
        if not path and not stored_path:
            raise FileNotFoundError(
                f"{sha256[:12]}: this photo was forgotten; only its fingerprint, predictions "
                "and label history are kept"
            )
        if path and Path(path).is_file():
            return Path(path)
        if stored_path:
            copy = self.path(stored_path)
            if copy.is_file():
                return copy
        raise FileNotFoundError(f"{path or sha256}: file not found (moved or deleted?)")

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
    """Copy atomically (engine.atomic: temp file, fsync, rename) and only if the bytes hash to
    ``sha256``. A source that cannot be read raises StoreError; a target that cannot be written
    (disk full, read-only) raises StoreWriteError naming the target and the cause."""
    from engine.images import ImageLoadError, open_regular_file

    src = Path(source)
    digest = hashlib.sha256()
    try:
        src_fh = open_regular_file(src)
    except ImageLoadError as exc:
        raise StoreError(f"{src}: cannot copy it ({exc.reason})") from exc
    try:
        with src_fh, atomic_open(target, "wb") as out:
            while True:
                try:
                    chunk = src_fh.read(_CHUNK)
                except OSError as exc:
                    raise StoreError(f"{src}: cannot copy it ({os_cause(exc)})") from exc
                if not chunk:
                    break
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise write_failed(target, exc) from exc
            if digest.hexdigest() != sha256:  # inside the with: nothing is renamed into place
                raise StoreError(
                    f"{src}: contents changed since it was recorded (expected sha256 "
                    f"{sha256[:12]}..., found {digest.hexdigest()[:12]}...); not copied"
                )
    except WriteFailed as exc:
        raise StoreWriteError(str(exc)) from exc


def remove_stale_copies(root: Path) -> int:
    """Temporaries a killed copy left in ``root/ab/cd/`` (see engine.atomic)."""
    return remove_stale_temporaries(root, depth=2)
