"""channel settings: time zone, quiet hours, digests, reminders, budget, pause; keyed outbox ops

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:45:00

`channels` gains each channel's settings (all nullable or with a server default, so a
channel without a row, or with an old row, has every default) and the pause state, copied
from its subscriptions. `alerts` gains what scheduled and folded messages need: `key`
(one reminder, digest, catch-up or "more stories" message per channel and key), `payload`
(JSON the message is rendered from), `urgent` (may bypass quiet hours) and `folded_into`
(the catch-up or "more stories" message that stands for this alert).
The chain: … → 0007 (search) → 0008.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED = "key IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tz", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("quiet_start", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quiet_end", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("quiet_urgent", sa.String(length=10), server_default="all", nullable=False)
        )
        batch_op.add_column(sa.Column("digest_every", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("digest_weekday", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("digest_at", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("alerts_on", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("reminders", sa.String(length=60), server_default="1440,60", nullable=False)
        )
        batch_op.add_column(sa.Column("flood_budget", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("folded_into", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_folded_into"), ["folded_into"], unique=False)
        batch_op.create_index(
            "ux_alerts_keyed",
            ["channel_id", "op", "key"],
            unique=True,
            sqlite_where=sa.text(KEYED),
            postgresql_where=sa.text(KEYED),
        )
    # the pause state moves to the channel: a channel with a paused subscription is paused
    op.execute(
        "INSERT INTO channels (channel_id, threads, created_at, updated_at) "
        "SELECT DISTINCT s.channel_id, true, s.created_at, s.created_at FROM subscriptions s "
        "WHERE s.paused_reason IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM channels c WHERE c.channel_id = s.channel_id)"
        if op.get_bind().dialect.name == "postgresql"
        else "INSERT OR IGNORE INTO channels (channel_id, threads, created_at, updated_at) "
        "SELECT channel_id, 1, MIN(created_at), MIN(created_at) FROM subscriptions "
        "WHERE paused_reason IS NOT NULL GROUP BY channel_id"
    )
    op.execute(
        "UPDATE channels SET paused_reason = (SELECT MIN(s.paused_reason) FROM subscriptions s "
        "WHERE s.channel_id = channels.channel_id AND s.paused_reason IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ux_alerts_keyed")
        batch_op.drop_index(batch_op.f("ix_alerts_folded_into"))
        batch_op.drop_column("folded_into")
        batch_op.drop_column("urgent")
        batch_op.drop_column("payload")
        batch_op.drop_column("key")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        for column in (
            "paused_reason",
            "flood_budget",
            "reminders",
            "alerts_on",
            "digest_at",
            "digest_weekday",
            "digest_every",
            "quiet_urgent",
            "quiet_end",
            "quiet_start",
            "tz",
        ):
            batch_op.drop_column(column)
