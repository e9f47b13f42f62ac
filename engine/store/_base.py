"""Connection plumbing shared by the Store facade: engine, sessions, image store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.paths import user_data_dir
from engine.store import records, registry
from engine.store.backup import BackupInfo
from engine.store.db import (
    describe,
    head_revision,
    open_engine,
    sqlite_cause,
    sqlite_file,
    writer,
)
from engine.store.errors import NotFoundError, StoreError
from engine.store.health import Housekeeping, sqlite_check
from engine.store.imagestore import ImageStore
from engine.store.owner import Heartbeat
from engine.store.queries import ReviewFilter

IMAGE_STORE_ENV = "POXSCREEN_IMAGE_STORE"
_S = TypeVar("_S", bound="StoreBase")


def default_image_root(engine: Engine | None, path: Path | None = None) -> Path:
    """``$POXSCREEN_IMAGE_STORE``, else ``<db name>-images`` beside an SQLite file, else
    ``<user data dir>/images`` (a server database still keeps image copies per workstation)."""
    override = os.environ.get(IMAGE_STORE_ENV)
    if override:
        return Path(override)
    if engine is not None:
        path = sqlite_file(engine.url)
    if path is not None:
        return path.with_name(f"{path.stem}-images")
    return user_data_dir() / "images"


def _reason(exc: SQLAlchemyError, engine: Engine | None = None) -> str:
    """The driver's words, or for SQLite the file-system cause behind them (disk full...)."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return str(exc).splitlines()[0]
    path = sqlite_file(engine.url) if engine is not None else None
    if path is not None and isinstance(exc, OperationalError):
        return sqlite_cause(path, orig)
    return str(orig)


class StoreBase:
    """Engine, read/write sessions and the image store; see engine.store.store.Store."""

    def __init__(self, engine: Engine, image_root: str | os.PathLike[str] | None = None) -> None:
        self.engine = engine
        self.location = describe(engine.url)
        self.images = ImageStore(
            image_root if image_root is not None else default_image_root(engine)
        )
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(writer(engine), expire_on_commit=False)
        # Integrity quick check and stale-temporary cleanup run in the background (issue #9).
        self.housekeeping = Housekeeping(sqlite_file(engine.url), self.images.root).start()
        self._heartbeats: dict[int, Heartbeat] = {}  # runs this object screens (store.py)

    @classmethod
    def open(
        cls: type[_S],
        db: str | os.PathLike[str] | None = None,
        *,
        image_root: str | os.PathLike[str] | None = None,
        upgrade: bool = True,
        create: bool = True,
    ) -> _S:
        """Open (creating or migrating as needed) the database named by ``db`` / $POXSCREEN_DB.

        ``create=False`` (read-only commands) refuses to create a missing SQLite file."""
        return cls(open_engine(db, upgrade=upgrade, create=create), image_root)

    def check(self, *, full: bool = True) -> list[str]:
        """Problems in the database file (empty when healthy): SQLite's integrity_check (or
        quick_check with ``full=False``). Slow on big stores: never call it at start-up."""
        path = sqlite_file(self.engine.url)
        if path is None:  # a server database checks itself; a round trip proves it answers
            with self.read() as s:
                s.execute(text("SELECT 1"))
            return []
        return sqlite_check(path, full=full)

    def backup(self, dest: str | os.PathLike[str]) -> BackupInfo:
        """A consistent backup (database and image copies) in a new folder under ``dest``;
        safe while others screen and label. See engine.store.backup for ``restore``."""
        from engine.store.backup import backup

        path = sqlite_file(self.engine.url)
        if path is None:
            raise StoreError(
                f"{self.location}: a server database is backed up with the server's own tools "
                "(pg_dump); PoxScreen backs up SQLite stores"
            )
        return backup(path, self.images.root, Path(dest), head_revision())

    def close(self) -> None:
        for beat in self._heartbeats.values():
            beat.stop()
        self._heartbeats.clear()
        self.engine.dispose()

    def _beside_db(self, suffix: str, fallback: str) -> Path:
        path = sqlite_file(self.engine.url)
        return path.with_name(f"{path.stem}-{suffix}") if path else user_data_dir() / fallback

    @property
    def models_dir(self) -> Path:
        """Where registered model files live: ``<db name>-models`` beside an SQLite file, else
        ``<user data dir>/models`` (a server database still keeps model files per workstation).
        Every registered model has its file here, so the store never depends on a USB stick."""
        return self._beside_db("models", "models")

    @property
    def splits_dir(self) -> Path:
        """Where the recorded training splits of this store live (beside the database)."""
        return self._beside_db("splits", "splits")

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on error.

        Database failures (disk full, lock timeout, constraint) surface as StoreError naming
        the database, with the driver's exception as ``__cause__``. A database whose background
        integrity check failed refuses every write."""
        if self.housekeeping.damaged:
            problems = "; ".join((self.housekeeping.problems or [])[:2])
            raise StoreError(
                f"{self.location}: the database is damaged ({problems}); writes are refused. "
                "Run `poxscreen check`, then restore a backup (`poxscreen restore`)"
            )
        try:
            with self._writer() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(
                f"{self.location}: database error: {_reason(exc, self.engine)}"
            ) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one read transaction (a consistent snapshot)."""
        try:
            with self._reader() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(
                f"{self.location}: database error: {_reason(exc, self.engine)}"
            ) from exc

    def _queue_model(self, s: Session, flt: ReviewFilter) -> int:
        if flt.model_version:
            return registry.find(s, flt.model_version).id
        if flt.run_id is not None:
            return records.get_run(s, flt.run_id).model_id
        model = registry.active_model(s)
        if model is None:
            raise NotFoundError("no model is registered yet; screen a folder first")
        return model.id
