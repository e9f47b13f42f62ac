"""Care of patient data and of the database itself: forget a photo (its pixels and file names
leave, its audit history stays), check the database for damage, back it up."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select, text

from engine.store import audit
from engine.store.backup import (
    BackupInfo,
    RestoreOutcome,
    backup,
    forgotten_list,
    replace_with,
    verify_backup,
)
from engine.store.database import Database
from engine.store.db import head_revision, open_engine
from engine.store.errors import StoreError
from engine.store.forget import ForgetHook, ForgetOutcome, remove_store_files, run_hooks
from engine.store.health import sqlite_check
from engine.store.openers import exclusive
from engine.store.photos import find_image
from engine.store.tables import Image, RunItem, utcnow


def _when(text: str) -> datetime:
    """A stored forget time (naive UTC text) as an aware datetime; now when unreadable."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    except ValueError:
        return utcnow()


class Care:
    """Forget, check and backup of the case store (``store.care``).

    ``on_forget`` lists the hooks called after each forget; whoever shows derived pictures of
    photos (thumbnails, previews) appends one, since the store knows nothing of them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.on_forget: list[ForgetHook] = []

    def forget(
        self,
        ref: str | os.PathLike[str],
        when: datetime | None = None,
        *,
        who: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> ForgetOutcome:
        """Remove a photo's pixels from the data folder: its image-store copy and its file paths
        in the database, then (through ``on_forget``) its thumbnails and previews. The hash,
        predictions and label history stay (the audit trail), and a ``forget`` event by ``who``
        names the photo by its hash only. Files that cannot be deleted are listed in
        ``failed``."""
        with self.db.write() as s:
            img = find_image(s, ref)
            sha, stored = img.sha256, img.stored_path
            img.stored_path = None
            img.path = None
            img.patient = img.visit = None  # no longer tied to a patient
            img.forgotten_at = when or utcnow()
            for item in s.scalars(select(RunItem).where(RunItem.image_id == img.id)):
                item.path = f"(forgotten) {sha[:16]} #{item.id}"
            who_ = audit.acting(self.db, who)
            audit.record(s, "forget", who=who_, obj=audit.photo(sha), details=details)
        return run_hooks(self.on_forget, remove_store_files(sha, self.db.images, stored))

    def forgotten_hashes(self) -> dict[str, datetime]:
        """The forget list: ``{sha256: when}`` of every photo forgotten (and not re-added).
        Screening skips these photos unless asked to add them again."""
        with self.db.read() as s:
            rows = s.execute(
                select(Image.sha256, Image.forgotten_at).where(Image.forgotten_at.is_not(None))
            )
            return {sha: when for sha, when in rows}

    def readd_forgotten(self, hashes: Iterable[str]) -> int:
        """Take photos off the forget list (the clinician chose to screen them again)."""
        wanted = list(hashes)
        if not wanted:
            return 0
        with self.db.write() as s:
            rows = s.scalars(
                select(Image).where(Image.sha256.in_(wanted), Image.forgotten_at.is_not(None))
            ).all()
            for img in rows:
                img.forgotten_at = None
            return len(rows)

    def forget_again(self, forgotten: Mapping[str, str], *, who: str | None = None) -> int:
        """After a restore: forget the photos the replaced store had forgotten (``{sha256:
        forgotten_at}``) and this one had not; a photo it never knew goes on the forget list.
        Returns how many photos were forgotten again."""
        count = 0
        for sha, stamp in forgotten.items():
            with self.db.write() as s:
                img = s.scalar(select(Image).where(Image.sha256 == sha))
                if img is None:
                    when = _when(stamp)
                    s.add(
                        Image(sha256=sha, first_seen_at=when, last_seen_at=when, forgotten_at=when)
                    )
                    continue
                if img.forgotten_at is not None:
                    continue
            self.forget(sha, when=_when(stamp), who=who, details={"again_after_restore": True})
            count += 1
        return count

    def check(self, *, full: bool = True) -> list[str]:
        """Problems in the database file (empty when healthy): SQLite's integrity_check (or
        quick_check with ``full=False``), then labelled photos whose image-store copy is
        missing. Slow on big stores: never call it at start-up."""
        path = self.db.sqlite_path
        if path is None:  # a server database checks itself; a round trip proves it answers
            with self.db.read() as s:
                s.execute(text("SELECT 1"))
            return self.missing_copies()
        problems = sqlite_check(path, full=full)
        return problems or self.missing_copies()

    def missing_copies(self) -> list[str]:
        """Labelled photos whose copy in the image store is gone (a restore without images, a
        deleted folder): the trainer and the report need them."""
        with self.db.read() as s:
            rows = s.execute(
                select(Image.sha256, Image.stored_path).where(
                    Image.stored_path.is_not(None), Image.forgotten_at.is_(None)
                )
            ).all()
        missing = [sha for sha, stored in rows if not self.db.images.path(stored).is_file()]
        if not missing:
            return []
        shown = ", ".join(sha[:12] for sha in missing[:5]) + (", ..." if len(missing) > 5 else "")
        return [
            f"{len(missing)} labelled photos have lost their copy in the image store "
            f"{self.db.images.root} ({shown}); restore a complete backup"
        ]

    def backup(self, dest: str | os.PathLike[str], *, who: str | None = None) -> BackupInfo:
        """A consistent backup (database and image copies) in a new folder under ``dest``;
        safe while others screen and label. See engine.store.backup for ``restore``."""
        path = self.db.sqlite_path
        if path is None:
            raise StoreError(
                f"{self.db.location}: a server database is backed up with the server's own tools "
                "(pg_dump); PoxScreen backs up SQLite stores"
            )
        info = backup(path, self.db.images.root, Path(dest), head_revision())
        try:  # the backup is made: a store that refuses writes (damaged) still gets one
            with self.db.write() as s:
                details = {"images": info.images, "bytes": info.bytes, "folder": info.folder.name}
                audit.record(s, "backup", who=audit.acting(self.db, who), details=details)
        except StoreError:
            pass
        return info


def restore(
    backup_folder: Path,
    db_file: Path,
    image_root: Path,
    *,
    unverified: bool = False,
    who: str | None = None,
) -> RestoreOutcome:
    """Put a verified backup in place of ``db_file`` while no other process has it open, then
    put back the audit events written since the backup, forget again the photos forgotten since
    it was made, and record the restore itself (by ``who``). Nothing changes when the backup is
    bad or the store is in use (StoreError says why and who)."""
    backup_folder, db_file = backup_folder.resolve(), db_file.resolve()
    verify_backup(backup_folder, unverified=unverified)
    with exclusive(db_file):
        forgotten = forgotten_list(db_file)
        trail = audit.trail_of(db_file)
        moved = replace_with(backup_folder, db_file, image_root, frozenset(forgotten))
        db = Database(open_engine(db_file), image_root)  # upgrades an older backup
        try:
            with db.write() as s:
                kept = audit.put_back(s, trail)
            reforgotten = Care(db).forget_again(forgotten, who=who) if forgotten else 0
            with db.write() as s:
                details = {"backup": backup_folder.name, "events_kept": kept}
                audit.record(s, "restore", who=audit.acting(db, who), details=details)
        finally:
            db.close()
    return RestoreOutcome(moved, reforgotten, kept)
