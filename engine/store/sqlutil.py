"""Portable bulk INSERT ... ON CONFLICT for SQLite and PostgreSQL (the two supported back ends)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, func
from sqlalchemy.orm import Session

from engine.store.errors import StoreError

T = TypeVar("T")
IN_CHUNK = 500
"""Rows per ``IN (...)`` list: far below SQLite's and PostgreSQL's bound-parameter limits."""


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert_for(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise StoreError(f"database back end {name!r} is not supported; use SQLite or PostgreSQL")
    return insert


def insert_ignore(
    session: Session, table: Table, rows: Iterable[dict[str, Any]], conflict: Sequence[str]
) -> None:
    """Insert rows, silently keeping the existing row wherever ``conflict`` columns collide."""
    rows = list(rows)
    if rows:
        stmt = _insert_for(session)(table).on_conflict_do_nothing(index_elements=list(conflict))
        session.execute(stmt, rows)


def upsert(
    session: Session,
    table: Table,
    rows: Iterable[dict[str, Any]],
    conflict: Sequence[str],
    replace: Sequence[str] = (),
    keep_if_null: Sequence[str] = (),
) -> None:
    """Insert rows; on conflict overwrite ``replace`` columns, and ``keep_if_null`` columns only
    with non-null new values. Rows must not repeat a conflict key (PostgreSQL refuses that)."""
    rows = list(rows)
    if not rows:
        return
    stmt = _insert_for(session)(table)
    values: dict[str, Any] = {c: stmt.excluded[c] for c in replace}
    values.update({c: func.coalesce(stmt.excluded[c], table.c[c]) for c in keep_if_null})
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=values)
    session.execute(stmt, rows)
