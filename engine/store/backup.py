"""Backups of a case store: the database (SQLite's online backup) plus the image store.

``backup`` may run while other processes screen and label: SQLite's backup API copies a
consistent snapshot, and image copies are content-addressed and immutable, so copying them after
the snapshot can only add files the snapshot does not need. A backup is a folder::

    <dest>/poxscreen-backup-<UTC stamp>/poxscreen.db
                                        images/ab/cd/<sha256>.<ext>
                                        backup.json   (every file with its SHA-256, written last)

A backup is complete only once ``backup.json`` exists: it is written last and atomically, and a
backup that fails part-way (a full disk) removes its folder. ``restore`` (engine.store.care.restore) verifies the manifest
(every file there, every SHA-256 right, the database whole and of a schema this version knows)
before it touches anything, takes the restore lock (refused while any other process has the
store open: see engine.store.openers), moves the current database aside
(``<name>.before-restore-<stamp>``, with its -wal/-shm), puts the backup in its place and merges
the image copies into the image store (nothing there is overwritten). Photos forgotten since the
backup was made are forgotten again in the restored store.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engine.atomic import TEMP_PREFIX, atomic_copy, atomic_path, atomic_write_text, os_cause
from engine.store.db import inspect_sqlite_file
from engine.store.errors import StoreError, StoreWriteError
from engine.store.health import sqlite_check

DB_NAME = "poxscreen.db"
IMAGES_DIR = "images"
MANIFEST = "backup.json"
MANIFEST_VERSION = 2


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


@dataclass(frozen=True)
class RestoreOutcome:
    """Where the replaced database went (None when there was none), how many photos
    forgotten since the backup was made were forgotten again, and how many audit events
    written since the backup were kept."""

    moved: Path | None
    reforgotten: int
    events_kept: int = 0


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _image_files(source: Path) -> list[Path]:
    if not source.is_dir():
        return []
    return [
        p
        for p in sorted(source.glob("??/??/*"))
        if p.is_file() and not p.name.startswith(TEMP_PREFIX)
    ]


def _copy_images(source: Path, target: Path, skip: frozenset[str] = frozenset()) -> int:
    """Copy image files not yet in ``target`` (content-addressed: same name, same bytes),
    except those whose name starts with a hash in ``skip``; returns how many were copied."""
    copied = 0
    for src in _image_files(source):
        dst = target / src.relative_to(source)
        if dst.exists() or src.name[:64] in skip:
            continue
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        copied += 1
    return copied


def _copy_hashed(source: Path, target: Path) -> dict[str, str]:
    """Copy every image file into a new backup; ``{relative path: SHA-256}`` of each copy."""
    hashes: dict[str, str] = {}
    for src in _image_files(source):
        rel = src.relative_to(source)
        digest = hashlib.sha256()
        with src.open("rb") as f:
            atomic_copy(f, target / rel, on_chunk=digest.update)
        hashes[f"{IMAGES_DIR}/{rel.as_posix()}"] = digest.hexdigest()
    return hashes


def backup(db_file: Path, image_root: Path, dest: Path, revision: str) -> BackupInfo:
    """Write a new backup folder under ``dest``; raises StoreWriteError naming the cause, after
    removing the folder, so a half-written backup is never left looking like a backup."""
    db_file, dest = db_file.resolve(), dest.resolve()
    folder = dest / f"poxscreen-backup-{_stamp()}"
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise StoreWriteError(f"{folder}: cannot write the backup: {os_cause(exc)}") from exc
    try:
        _sqlite_copy(db_file, folder / DB_NAME)
        files = _copy_hashed(image_root, folder / IMAGES_DIR)
        size = sum((folder / rel).stat().st_size for rel in files)
        manifest = {
            "format": "poxscreen-backup",
            "version": MANIFEST_VERSION,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "revision": revision,
            "source_db": str(db_file),
            "database": {"file": DB_NAME, "sha256": sha256_of(folder / DB_NAME)},
            "files": files,
            "images": len(files),
            "image_bytes": size,
        }
        atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1))  # last: complete
    except sqlite3.Error as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StoreError(f"{db_file}: cannot back it up ({exc})") from exc
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise StoreWriteError(
            f"{folder}: cannot write the backup: {os_cause(exc)}; the incomplete backup was removed"
        ) from exc
    return BackupInfo(folder, folder / DB_NAME, len(files), size)


def _read_manifest(folder: Path) -> dict[str, Any]:
    where = folder / MANIFEST
    if not folder.is_dir():
        raise StoreError(f"{folder}: no such backup folder")
    if not where.is_file():
        raise StoreError(
            f"{folder}: not a complete PoxScreen backup: {MANIFEST} is missing (a backup that "
            "did not finish, e.g. because the disk filled up); nothing was restored"
        )
    try:
        manifest = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{where}: unreadable backup manifest ({exc}); nothing was restored"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != "poxscreen-backup":
        raise StoreError(f"{where}: not a PoxScreen backup manifest; nothing was restored")
    return manifest


def verify_backup(folder: Path, *, unverified: bool = False) -> dict[str, Any]:
    """The manifest of a complete, intact backup; StoreError listing what is missing or
    changed otherwise. ``unverified`` accepts a backup of an older PoxScreen, whose manifest
    has no file hashes, after checking its database alone."""
    manifest = _read_manifest(folder)
    source = folder / DB_NAME
    if not source.is_file() or source.stat().st_size == 0:
        raise StoreError(
            f"{source}: the backup's database is missing or empty; nothing was restored"
        )
    if manifest.get("version", 1) < MANIFEST_VERSION:
        if not unverified:
            raise StoreError(
                f"{folder}: made by an older PoxScreen, without file hashes, so it cannot be "
                "verified; restore it with --unverified to accept it as it is"
            )
    else:
        _check_hashes(folder, manifest)
    inspect_sqlite_file(source)  # refuses foreign or newer databases
    problems = sqlite_check(source, full=True)
    if problems:
        raise StoreError(f"{source}: the backup is damaged ({'; '.join(problems[:2])})")
    return manifest


def _check_hashes(folder: Path, manifest: dict[str, Any]) -> None:
    expected = dict(manifest.get("files") or {})
    database = manifest.get("database") or {}
    expected[str(database.get("file", DB_NAME))] = str(database.get("sha256", ""))
    problems = []
    for rel, sha in sorted(expected.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_of(path) != sha:
            problems.append(f"{rel}: changed since the backup was made (SHA-256 differs)")
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise StoreError(
            f"{folder}: the backup is incomplete or damaged ({shown}); nothing was restored"
        )


def forgotten_list(db_file: Path) -> dict[str, str]:
    """``{sha256: forgotten_at}`` of the photos forgotten in an SQLite store (empty when the
    file is missing or unreadable: a damaged store is what restores are for)."""
    if not db_file.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute(
                "SELECT sha256, forgotten_at FROM images WHERE forgotten_at IS NOT NULL"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {str(sha): str(when) for sha, when in rows}


def replace_with(
    backup_folder: Path, db_file: Path, image_root: Path, skip: frozenset[str]
) -> Path | None:
    """Move ``db_file`` aside and put the (verified) backup in its place, merging its image
    copies except those of the photos in ``skip``; returns where the old database went. Call
    only under the restore lock (engine.store.care.restore takes it)."""
    moved = None
    try:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        if db_file.exists():
            moved = db_file.with_name(f"{db_file.name}.before-restore-{_stamp()}")
            _sqlite_copy(db_file, moved)  # consistent, WAL included
            for suffix in ("-wal", "-shm"):
                db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)
        _sqlite_copy(backup_folder / DB_NAME, db_file)
        _copy_images(backup_folder / IMAGES_DIR, image_root, skip)
    except sqlite3.Error as exc:
        raise StoreError(f"{db_file}: cannot restore ({exc})") from exc
    except OSError as exc:
        raise StoreWriteError(f"{db_file}: cannot restore: {os_cause(exc)}") from exc
    return moved
