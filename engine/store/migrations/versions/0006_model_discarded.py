"""A discarded model version: ``models.discarded_at`` (NULL: not discarded).

Discard deletes the model's copied file and hides the version from lists and activation; the
row stays so training runs and predictions still name it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("discarded_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("discarded_at")
