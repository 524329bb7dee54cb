"""sources: the outlet of every item and feed (name, kind, country, domain), backfilled

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 15:45:00

Existing rows are credited from their link, title and feed with the sources file of the
upgrade (DIPLO_SOURCES when the bot upgrades at start, else news/sources.toml); an
aggregator's " - Outlet" title suffix is cut and its title key recomputed, the dedup key
is left alone, so no stored item is stored again or alerted twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from models.attribution import backfill_items
from news.sources import SourceBook, default_sources

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("source_country", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("source_domain", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_items_source_kind", ["source_kind"], unique=False)
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_name", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("source_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("source_domain", sa.String(length=255), nullable=True))
    book = context.config.attributes.get("sources")
    backfill_items(op.get_bind(), book if isinstance(book, SourceBook) else default_sources())


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("source_domain")
        batch_op.drop_column("source_kind")
        batch_op.drop_column("source_name")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_source_kind")
        batch_op.drop_column("source_domain")
        batch_op.drop_column("source_country")
        batch_op.drop_column("source_kind")
