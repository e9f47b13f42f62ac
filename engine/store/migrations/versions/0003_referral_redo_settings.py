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

# 0001 named them through the naming convention twice; 0003 names them as the ORM does.
_NAMES = {
    True: ("ck_label_events_kind", "ck_label_events_label_iff_set"),
    False: (
        "ck_label_events_ck_label_events_kind",
        "ck_label_events_ck_label_events_label_iff_set",
    ),
}
_COPIED = "id, image_id, kind, label, who, note, source, undoes_id, created_at"
_KIND = {True: "kind IN ('set', 'undo', 'redo')", False: "kind IN ('set', 'undo')"}
_LABEL = {
    True: "(kind IN ('set', 'redo')) = (label IS NOT NULL)",
    False: "(kind = 'set') = (label IS NOT NULL)",
}


def _label_events(name: str, new: bool) -> None:
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    ]
    extra: list[sa.SchemaItem] = []
    if new:
        columns.append(sa.Column("prediction_id", sa.Integer(), nullable=True))
        extra.append(
            sa.ForeignKeyConstraint(
                ["prediction_id"],
                ["predictions.id"],
                name="fk_label_events_prediction_id_predictions",
                ondelete="SET NULL",
            )
        )
    op.create_table(
        name,
        *columns,
        sa.CheckConstraint(_KIND[new], name=op.f(_NAMES[new][0])),
        sa.CheckConstraint(_LABEL[new], name=op.f(_NAMES[new][1])),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name="fk_label_events_image_id_images"
        ),
        sa.ForeignKeyConstraint(
            ["undoes_id"], ["label_events.id"], name="fk_label_events_undoes_id_label_events"
        ),
        *extra,
        sa.PrimaryKeyConstraint("id", name="pk_label_events"),
    )


def _rebuild_sqlite(new: bool) -> None:
    """SQLite cannot alter CHECK constraints: rename the table away (its self-reference follows
    the rename), create the new one, copy the events, drop the old one. Dropping the table under
    its own name first (Alembic's batch mode) fails while foreign keys are enforced."""
    op.drop_index("ix_label_events_image_id_id", table_name="label_events")
    op.rename_table("label_events", "_label_events_old")
    _label_events("label_events", new)
    op.execute(f"INSERT INTO label_events ({_COPIED}) SELECT {_COPIED} FROM _label_events_old")
    op.drop_table("_label_events_old")
    op.create_index("ix_label_events_image_id_id", "label_events", ["image_id", "id"])


def _alter_in_place(new: bool) -> None:
    for name in _NAMES[not new]:
        op.drop_constraint(op.f(name), "label_events", type_="check")
    if new:
        op.add_column("label_events", sa.Column("prediction_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_label_events_prediction_id_predictions",
            "label_events",
            "predictions",
            ["prediction_id"],
            ["id"],
            ondelete="SET NULL",
        )
    else:
        op.drop_constraint(
            "fk_label_events_prediction_id_predictions", "label_events", type_="foreignkey"
        )
        op.drop_column("label_events", "prediction_id")
    op.create_check_constraint(op.f(_NAMES[new][0]), "label_events", _KIND[new])
    op.create_check_constraint(op.f(_NAMES[new][1]), "label_events", _LABEL[new])


def _label_events_to(new: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(new)
    else:
        _alter_in_place(new)


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )
    _label_events_to(new=True)
    op.create_index("ix_images_path", "images", ["path"])


def downgrade() -> None:
    op.drop_index("ix_images_path", table_name="images")
    _label_events_to(new=False)
    op.drop_table("settings")
