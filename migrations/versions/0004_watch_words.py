"""watch-words: a channel's own phrases, and the phrase that matched on an alert

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watch_words",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=50), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("normalized", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=50), nullable=False),
        sa.Column("created_by", sa.String(length=50), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_words")),
        sa.UniqueConstraint(
            "channel_id",
            "normalized",
            "topic",
            name=op.f("uq_watch_words_channel_id_normalized_topic"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("watch_words", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watch_words_channel_id"), ["channel_id"], unique=False
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("watch_phrase", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("watch_phrase")
    with op.batch_alter_table("watch_words", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_words_channel_id"))
    op.drop_table("watch_words")
