"""story ops: the outbox as a queue of story message operations; per-channel settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:00:00

`alerts` rows become message operations (`op`: post | reply | update) keyed to a story;
old rows are item alerts, i.e. `post` with no story. `channels` holds per-channel choices.
The chain: 0001 → 0002 → 0003 (stories) → 0004 (watch) → 0005.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED_UPDATE = "op = 'update' AND status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("channel_id", sa.String(length=50), nullable=False),
        sa.Column("threads", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channels")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("item_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("op", sa.String(length=10), server_default="post", nullable=False)
        )
        batch_op.add_column(
            sa.Column("broadcast", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("rerender", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_alerts_story_id"), ["story_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_story_id_stories"),
            "stories",
            ["story_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ux_alerts_story_post",
            ["story_id", "channel_id"],
            unique=True,
            sqlite_where=sa.text("op = 'post'"),
            postgresql_where=sa.text("op = 'post'"),
        )
        batch_op.create_index(
            "ux_alerts_story_update",
            ["story_id", "channel_id"],
            unique=True,
            sqlite_where=sa.text(UNFINISHED_UPDATE),
            postgresql_where=sa.text(UNFINISHED_UPDATE),
        )


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE item_id IS NULL")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ux_alerts_story_update")
        batch_op.drop_index("ux_alerts_story_post")
        batch_op.drop_constraint(batch_op.f("fk_alerts_story_id_stories"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alerts_story_id"))
        batch_op.drop_column("rerender")
        batch_op.drop_column("broadcast")
        batch_op.drop_column("op")
        batch_op.drop_column("story_id")
        batch_op.alter_column("item_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("channels")
