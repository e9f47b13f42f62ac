"""Alembic environment for the case store.

Configured from code (``engine.store.db``), never from an ini file: the caller hands over an open
connection in ``config.attributes["connection"]`` and the whole upgrade runs in its transaction.
"""

from __future__ import annotations

from alembic import context

from engine.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI
    raise RuntimeError("run migrations through engine.store.db.open_store(), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
