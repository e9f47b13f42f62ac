"""Settings kept in the database (the referral rule first), redo label events, the prediction a
clinician saw when labelling, and an index for sorting the queue by file name.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )
    with op.batch_alter_table("label_events", recreate="auto") as batch:
        batch.drop_constraint("ck_label_events_kind", type_="check")
        batch.drop_constraint("ck_label_events_label_iff_set", type_="check")
        batch.add_column(sa.Column("prediction_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_label_events_prediction_id_predictions",
            "predictions",
            ["prediction_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_check_constraint("kind", "kind IN ('set', 'undo', 'redo')")
        batch.create_check_constraint(
            "label_iff_set",
            "(kind IN ('set', 'redo')) = (label IS NOT NULL)",
        )
    op.create_index("ix_images_path", "images", ["path"])


def downgrade() -> None:
    op.drop_index("ix_images_path", table_name="images")
    with op.batch_alter_table("label_events", recreate="auto") as batch:
        batch.drop_constraint("ck_label_events_kind", type_="check")
        batch.drop_constraint("ck_label_events_label_iff_set", type_="check")
        batch.drop_constraint("fk_label_events_prediction_id_predictions", type_="foreignkey")
        batch.drop_column("prediction_id")
        batch.create_check_constraint("kind", "kind IN ('set', 'undo')")
        batch.create_check_constraint("label_iff_set", "(kind = 'set') = (label IS NOT NULL)")
    op.drop_table("settings")
