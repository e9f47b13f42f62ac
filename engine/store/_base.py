"""Connection plumbing shared by the Store facade: engine, sessions, image store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.paths import user_data_dir
from engine.store import records, registry
from engine.store.db import describe, open_engine, sqlite_file, writer
from engine.store.errors import NotFoundError, StoreError
from engine.store.imagestore import ImageStore
from engine.store.queries import ReviewFilter

IMAGE_STORE_ENV = "POXSCREEN_IMAGE_STORE"
_S = TypeVar("_S", bound="StoreBase")


def default_image_root(engine: Engine) -> Path:
    """``$POXSCREEN_IMAGE_STORE``, else ``<db name>-images`` beside an SQLite file, else
    ``<user data dir>/images`` (a server database still keeps image copies per workstation)."""
    override = os.environ.get(IMAGE_STORE_ENV)
    if override:
        return Path(override)
    path = sqlite_file(engine.url)
    if path is not None:
        return path.with_name(f"{path.stem}-images")
    return user_data_dir() / "images"


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc).splitlines()[0]


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

    @classmethod
    def open(
        cls: type[_S],
        db: str | os.PathLike[str] | None = None,
        *,
        image_root: str | os.PathLike[str] | None = None,
        upgrade: bool = True,
    ) -> _S:
        """Open (creating or migrating as needed) the database named by ``db`` / $POXSCREEN_DB."""
        return cls(open_engine(db, upgrade=upgrade), image_root)

    def close(self) -> None:
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
        the database, with the driver's exception as ``__cause__``."""
        try:
            with self._writer() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: database error: {_reason(exc)}") from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session in one read transaction (a consistent snapshot)."""
        try:
            with self._reader() as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: database error: {_reason(exc)}") from exc

    def _queue_model(self, s: Session, flt: ReviewFilter) -> int:
        if flt.model_version:
            return registry.find(s, flt.model_version).id
        if flt.run_id is not None:
            return records.get_run(s, flt.run_id).model_id
        model = registry.active_model(s)
        if model is None:
            raise NotFoundError("no model is registered yet; screen a folder first")
        return model.id
