"""Out-of-scope guard and photo-quality results on each prediction.

``scope_score`` (distance / threshold; above 1 = probably not a skin photo), ``out_of_scope``
(NULL when the model had no guard) and ``quality_issues`` ("blurry;too dark", "" when fine,
NULL when not checked). Rows written before this revision keep NULL: not checked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("scope_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("out_of_scope", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("quality_issues", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("quality_issues")
        batch.drop_column("out_of_scope")
        batch.drop_column("scope_score")
