"""Prediction entropy (backfilled, indexed for "most uncertain first") and the training_runs table.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-15
"""

from __future__ import annotations

import json
import math

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BACKFILL_CHUNK = 5000


def _entropy(probabilities: object) -> float | None:
    """Shannon entropy in nats of a {class: probability} mapping; None when unreadable."""
    if isinstance(probabilities, str):
        probabilities = json.loads(probabilities)
    if not isinstance(probabilities, dict) or not probabilities:
        return None
    return float(-sum(p * math.log(p) for p in map(float, probabilities.values()) if p > 0))


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("entropy", sa.Float(), nullable=True))

    predictions = sa.table(
        "predictions",
        sa.column("id", sa.Integer()),
        sa.column("probabilities", sa.JSON()),
        sa.column("entropy", sa.Float()),
    )
    conn = op.get_bind()
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(predictions.c.id, predictions.c.probabilities)
            .where(predictions.c.id > last_id)
            .order_by(predictions.c.id)
            .limit(_BACKFILL_CHUNK)
        ).all()
        if not rows:
            break
        conn.execute(
            predictions.update()
            .where(predictions.c.id == sa.bindparam("pid"))
            .values(entropy=sa.bindparam("value")),
            [{"pid": r.id, "value": _entropy(r.probabilities)} for r in rows],
        )
        last_id = rows[-1].id
    op.create_index(
        "ix_predictions_model_entropy", "predictions", ["model_id", "entropy", "image_id"]
    )

    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("base_model_id", sa.Integer(), nullable=True),
        sa.Column("result_model_id", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("data_summary", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'cancelled', 'failed')",
            name="ck_training_runs_status",
        ),
        sa.ForeignKeyConstraint(
            ["base_model_id"], ["models.id"], name="fk_training_runs_base_model_id_models"
        ),
        sa.ForeignKeyConstraint(
            ["result_model_id"], ["models.id"], name="fk_training_runs_result_model_id_models"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_training_runs"),
    )


def downgrade() -> None:
    op.drop_table("training_runs")
    op.drop_index("ix_predictions_model_entropy", table_name="predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("entropy")
