"""The case store as the desktop uses it: opening one, its counts, its referral rule and its care
(forget a photo, back up, check). Plain functions, called on worker threads through
:mod:`desktop.services.tasks`; :class:`desktop.services.cases.CaseStore` runs them and answers with
signals. Qt-free and import-light.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import os_cause
from engine.i18n import _
from engine.paths import user_data_dir
from engine.referral import DEFAULT_REFERRAL_RULE, ReferralRule
from engine.store import (
    ModelInfo,
    ReviewFilter,
    ReviewItem,
    RunInfo,
    Store,
    StoreError,
    StoreVersionError,
)
from engine.store.errors import StoreWriteError
from engine.store.openers import DESKTOP_KIND
from engine.thumbnails import ThumbnailCache

__all__ = [
    "DEFAULT_REFERRAL_RULE",
    "BackupView",
    "Forgotten",
    "Restored",
    "ModelInfo",
    "ReferralRule",
    "ReviewFilter",
    "ReviewItem",
    "RunInfo",
    "Stats",
    "Store",
    "active_version",
    "backup_store",
    "care_error",
    "check_store",
    "classify_open_error",
    "db_url",
    "forget_case",
    "open_store",
    "referral_rule",
    "restore_backup",
    "run_errors",
    "runs",
    "set_referral_rule",
    "stats",
    "user_data_dir",
]


def open_store(db: str | os.PathLike[str] | None) -> Store:
    """``Store.open(db)``: path, SQLAlchemy URL, or None for the user data folder. Forgetting a
    photo in it also removes the thumbnails and previews the desktop made of it."""
    from engine.thumbnails import clean_on_forget

    return clean_on_forget(Store.open(db, kind=DESKTOP_KIND))


def classify_open_error(exc: BaseException) -> str:
    """Why a database could not be opened: "newer", "foreign", "locked" or "other"."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "locked"
    if isinstance(exc, StoreVersionError):
        if "newer" in text or "unknown to this poxscreen" in text:
            return "newer"
        return "foreign"
    return "other"


def open_error_parts(exc: BaseException, default_location: str) -> tuple[str, str]:
    """Which database could not be opened, and why (a StoreVersionError names both)."""
    if isinstance(exc, StoreVersionError):
        return str(exc.location or default_location), str(exc.reason or exc)
    return default_location, str(exc)


def db_url(store: Store) -> str:
    """The store's database as a URL the trainer's ``--db`` accepts."""
    return store.engine.url.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Stats:
    """The status bar counts."""

    screened: int = 0
    reviewed: int = 0
    to_review: int = 0


def stats(store: Store) -> Stats:
    """Images screened by the active model, reviewed, and left to review."""
    s = store.stats()
    return Stats(s.screened, s.reviewed, s.to_review)


def runs(store: Store, limit: int = 100) -> list[RunInfo]:
    return list(store.runs(limit=limit))


def active_version(store: Store) -> str | None:
    """The content hash of the active model (None: no model registered yet)."""
    model = store.active_model()
    return model.content_hash if model is not None else None


def run_errors(store: Store, run_id: int | None) -> list[tuple[str, str]] | None:
    """Unreadable files of a run (path, reason); None when no run is chosen."""
    if run_id is None:
        return None
    return [(str(p), str(r)) for p, r in store.run_errors(run_id)]


def run_folder(store: Store, run_id: int) -> str:
    """The folder a run screened (to screen it again with another model)."""
    return str(store.run(run_id).folder)


# --- referral rule ----------------------------------------------------------------------


def referral_rule(store: Store) -> ReferralRule:
    """The rule kept in the case store (the CLI and reports apply the same one)."""
    return store.referral_rule()


def set_referral_rule(
    store: Store, min_confidence: float, mpox_above: float, who: str
) -> ReferralRule:
    """Save new thresholds in the case store; the rule's own checks apply."""
    rule = dataclasses.replace(
        store.referral_rule(), min_confidence=min_confidence, mpox_above=mpox_above
    )
    return store.set_referral_rule(rule, who=who)


# --- care of the case store (forget, backup, check) ----------------------------------------


@dataclass(frozen=True)
class Forgotten:
    """What forgetting a photo removed, and what the store keeps for the audit trail."""

    sha256: str
    removed: int  # files deleted: the store's copy, thumbnails, previews
    failed: list[str]  # "file: reason" for files that could not be deleted
    kept: str


def forget_case(store: Store, sha256: str, thumbs: ThumbnailCache | None = None) -> Forgotten:
    """``Store.forget``: the photo's copy, thumbnails, previews and paths go; its hash,
    predictions and label history stay. ``thumbs`` (the desktop's ThumbnailCache, which may
    live elsewhere than the store's default) loses its files of the photo too."""
    outcome = store.forget(sha256)
    removed = len(outcome.removed)
    if thumbs is not None:
        removed += thumbs.forget(outcome.sha256)
    return Forgotten(outcome.sha256, removed, list(outcome.failed), outcome.kept)


@dataclass(frozen=True)
class BackupView:
    """Where a backup went and what it holds."""

    folder: str
    images: int
    bytes: int


def backup_store(store: Store, dest: str | os.PathLike[str]) -> BackupView:
    """``Store.backup`` into a folder that exists: a folder gone since it was chosen (an
    unplugged disk) is an error, never a new folder quietly made on this computer."""
    if not os.path.isdir(dest):
        raise StoreWriteError(
            _(
                "{folder}: cannot write the backup: the folder does not exist (was the disk"
                " removed?)"
            ).format(folder=os.fspath(dest))
        )
    info = store.backup(dest)
    return BackupView(str(info.folder), int(info.images), int(info.bytes))


@dataclass(frozen=True)
class Restored:
    """What a restore did: where the replaced database was kept, how many photos forgotten
    since the backup was made were forgotten again."""

    location: str
    kept_as: str | None
    reforgotten: int


def restore_backup(store: Store, backup: str | os.PathLike[str]) -> Restored:
    """Close this app's own connection to ``store`` and put the backup in its place (the same
    verified, locked restore as ``poxscreen restore``); the caller reopens the store, whether
    this succeeded or not. Refused (StoreError naming who) while another process has it open."""
    from engine.store.care import restore

    path = store.db.sqlite_path
    if path is None:
        raise StoreError(
            _("{location}: a server database is restored with the server's own tools").format(
                location=store.location
            )
        )
    image_root, who = store.images.root, store.audit.who()
    store.close()
    outcome = restore(Path(backup), path, image_root, who=who)
    moved = str(outcome.moved) if outcome.moved is not None else None
    return Restored(str(path), moved, outcome.reforgotten)


def check_store(store: Store) -> list[str]:
    """The full integrity check (``poxscreen check``): problems found, empty when healthy; the
    registered model files are checked too (each must still hold its registered weights)."""
    return [str(p) for p in (*store.check(full=True), *store.check_model_files())]


def care_error(exc: BaseException) -> str | None:
    """The one-line reason of an expected store or file error (it names the file and the
    cause: disk full, read-only...); None for anything else, which is a bug to report."""
    if isinstance(exc, StoreError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{os_cause(exc)}"
    return None


def log_folder() -> Path:
    """Where the desktop writes its log (inside the user data folder)."""
    return user_data_dir() / "logs"
