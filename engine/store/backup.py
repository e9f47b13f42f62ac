"""Backups of a case store: the database (SQLite's online backup) plus the image store.

``backup`` may run while other processes screen and label: SQLite's backup API copies a
consistent snapshot, and image copies are content-addressed and immutable, so copying them after
the snapshot can only add files the snapshot does not need. A backup is a folder::

    <dest>/poxscreen-backup-<UTC stamp>/poxscreen.db
                                        images/ab/cd/<sha256>.<ext>
                                        backup.json   (revision, time, counts, source)

``restore`` checks the backup (integrity, a schema this version knows), moves the current
database aside (``<name>.before-restore-<stamp>``, with its -wal/-shm) and puts the backup in
its place; image copies are merged into the image store (nothing there is overwritten).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.atomic import TEMP_PREFIX, atomic_path, atomic_write_text, os_cause
from engine.store.db import inspect_sqlite_file
from engine.store.errors import StoreError, StoreWriteError
from engine.store.health import sqlite_check

DB_NAME = "poxscreen.db"
IMAGES_DIR = "images"
MANIFEST = "backup.json"


@dataclass(frozen=True)
class BackupInfo:
    folder: Path
    database: Path
    images: int
    bytes: int


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's online backup API, written atomically."""
    with atomic_path(target) as tmp:
        src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                dst.close()
        finally:
            src.close()


def _copy_images(source: Path, target: Path) -> tuple[int, int]:
    """Copy image files not yet in ``target`` (content-addressed: same name, same bytes)."""
    count = size = 0
    if not source.is_dir():
        return 0, 0
    for src in sorted(source.glob("??/??/*")):
        if src.name.startswith(TEMP_PREFIX) or not src.is_file():
            continue
        dst = target / src.relative_to(source)
        if not dst.exists():
            with atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
        count += 1
        size += src.stat().st_size
    return count, size


def backup(db_file: Path, image_root: Path, dest: Path, revision: str) -> BackupInfo:
    """Write a new backup folder under ``dest``; raises StoreWriteError naming the cause."""
    folder = dest / f"poxscreen-backup-{_stamp()}"
    try:
        folder.mkdir(parents=True, exist_ok=False)
        _sqlite_copy(db_file, folder / DB_NAME)
        images, size = _copy_images(image_root, folder / IMAGES_DIR)
        atomic_write_text(
            folder / MANIFEST,
            json.dumps(
                {
                    "format": "poxscreen-backup",
                    "version": 1,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "revision": revision,
                    "source_db": str(db_file),
                    "images": images,
                    "image_bytes": size,
                },
                indent=1,
            ),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{db_file}: cannot back it up ({exc})") from exc
    except OSError as exc:
        raise StoreWriteError(f"{folder}: cannot write the backup: {os_cause(exc)}") from exc
    return BackupInfo(folder, folder / DB_NAME, images, size)


def restore(backup_folder: Path, db_file: Path, image_root: Path) -> Path | None:
    """Put a backup in place of ``db_file``; returns where the old database was moved (None
    when there was none). The backup is checked first; nothing changes when it is bad."""
    source = backup_folder / DB_NAME
    if not source.is_file():
        raise StoreError(f"{backup_folder}: not a PoxScreen backup (no {DB_NAME})")
    inspect_sqlite_file(source)  # refuses foreign or newer databases
    problems = sqlite_check(source, full=True)
    if problems:
        raise StoreError(f"{source}: the backup is damaged ({'; '.join(problems[:2])})")
    moved = None
    try:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        if db_file.exists():
            moved = db_file.with_name(f"{db_file.name}.before-restore-{_stamp()}")
            _sqlite_copy(db_file, moved)  # consistent, WAL included
            for suffix in ("-wal", "-shm"):
                db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)
        _sqlite_copy(source, db_file)
        _copy_images(backup_folder / IMAGES_DIR, image_root)
    except sqlite3.Error as exc:
        raise StoreError(f"{db_file}: cannot restore ({exc})") from exc
    except OSError as exc:
        raise StoreWriteError(f"{db_file}: cannot restore: {os_cause(exc)}") from exc
    return moved
