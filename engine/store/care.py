"""Care of patient data and of the database itself: forget a photo (its pixels and file names
leave, its audit history stays), check the database for damage, back it up."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select, text

from engine.store.backup import BackupInfo, backup
from engine.store.database import Database
from engine.store.db import head_revision
from engine.store.errors import StoreError
from engine.store.forget import ForgetHook, ForgetOutcome, remove_store_files, run_hooks
from engine.store.health import sqlite_check
from engine.store.photos import find_image
from engine.store.tables import RunItem, utcnow


class Care:
    """Forget, check and backup of the case store (``store.care``).

    ``on_forget`` lists the hooks called after each forget; whoever shows derived pictures of
    photos (thumbnails, previews) appends one, since the store knows nothing of them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_forget: list[ForgetHook] = []

    def forget(self, ref: str | os.PathLike[str]) -> ForgetOutcome:
        """Remove a photo's pixels from the data folder: its image-store copy and its file paths
        in the database, then (through ``on_forget``) its thumbnails and previews. The hash,
        predictions and label history stay (the audit trail). Files that cannot be deleted are
        listed in ``failed``."""
        with self.db.write() as s:
            img = find_image(s, ref)
            sha, stored = img.sha256, img.stored_path
            img.stored_path = None
            img.path = None
            img.forgotten_at = utcnow()
            for item in s.scalars(select(RunItem).where(RunItem.image_id == img.id)):
                item.path = f"(forgotten) {sha[:16]} #{item.id}"
        return run_hooks(self.on_forget, remove_store_files(sha, self.db.images, stored))

    def check(self, *, full: bool = True) -> list[str]:
        """Problems in the database file (empty when healthy): SQLite's integrity_check (or
        quick_check with ``full=False``). Slow on big stores: never call it at start-up."""
        path = self.db.sqlite_path
        if path is None:  # a server database checks itself; a round trip proves it answers
            with self.db.read() as s:
                s.execute(text("SELECT 1"))
            return []
        return sqlite_check(path, full=full)

    def backup(self, dest: str | os.PathLike[str]) -> BackupInfo:
        """A consistent backup (database and image copies) in a new folder under ``dest``;
        safe while others screen and label. See engine.store.backup for ``restore``."""
        path = self.db.sqlite_path
        if path is None:
            raise StoreError(
                f"{self.db.location}: a server database is backed up with the server's own tools "
                "(pg_dump); PoxScreen backs up SQLite stores"
            )
        return backup(path, self.db.images.root, Path(dest), head_revision())
