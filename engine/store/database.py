"""The one session factory every repository of the case store shares: the SQLAlchemy engine,
read and write sessions (writes take the write lock up front), the image store, and where the
files that belong to this database live (model files, training splits, image copies)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.paths import user_data_dir
from engine.store.db import describe, sqlite_cause, sqlite_file, writer
from engine.store.errors import StoreError
from engine.store.health import Housekeeping
from engine.store.imagestore import ImageStore
from engine.store.roles import refused

IMAGE_STORE_ENV = "POXSCREEN_IMAGE_STORE"


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


def driver_reason(exc: SQLAlchemyError, engine: Engine | None = None) -> str:
    """The driver's words, or for SQLite the file-system cause behind them (disk full...)."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return str(exc).splitlines()[0]
    path = sqlite_file(engine.url) if engine is not None else None
    if path is not None and isinstance(exc, OperationalError):
        return sqlite_cause(path, orig)
    return str(orig)


class Database:
    """Engine, sessions and image store of one case store; the repositories' unit of work.

    Every repository method runs in one :meth:`read` or :meth:`write` transaction, so each
    public call is atomic and callers never hold ORM objects or sessions."""

    def __init__(self, engine: Engine, image_root: str | os.PathLike[str] | None = None) -> None:
        self.engine = engine
        self.location = describe(engine.url)
        self.images = ImageStore(
            image_root if image_root is not None else default_image_root(engine)
        )
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(writer(engine), expire_on_commit=False)
        # Who acts, for audit events of actions that name nobody (engine.store.audit.acting).
        self.actor: Callable[[], str] | None = None
        # Integrity quick check and stale-temporary cleanup run in the background.
        self.housekeeping = Housekeeping(sqlite_file(engine.url), self.images.root).start()

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return sqlite_file(self.engine.url)

    def beside_db(self, suffix: str, fallback: str) -> Path:
        """``<db name>-<suffix>`` beside an SQLite file, else ``<user data dir>/<fallback>``."""
        path = self.sqlite_path
        return path.with_name(f"{path.stem}-{suffix}") if path else user_data_dir() / fallback

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
            if refused(exc):
                raise StoreError(  # a clinician tried an admin action: nothing was changed
                    f"{self.location}: needs the admin role (the server refused: "
                    f"{driver_reason(exc, self.engine)})"
                ) from exc
            raise StoreError(
                f"{self.location}: database error: {driver_reason(exc, self.engine)}"
            ) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one read transaction (a consistent snapshot)."""
        try:
            with self._reader() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(
                f"{self.location}: database error: {driver_reason(exc, self.engine)}"
            ) from exc

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
