"""stories: stories, contacts (one per item in a story), story_people, story_topics

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 14:57:51
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('kinds', sa.Text(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('parties_us', sa.String(length=500), nullable=False),
    sa.Column('parties_china', sa.String(length=500), nullable=False),
    sa.Column('place', sa.String(length=60), nullable=True),
    sa.Column('region', sa.String(length=60), nullable=True),
    sa.Column('forum', sa.String(length=30), nullable=True),
    sa.Column('place_name', sa.String(length=100), nullable=True),
    sa.Column('scheduled_start', sa.Date(), nullable=True),
    sa.Column('scheduled_end', sa.Date(), nullable=True),
    sa.Column('scheduled_precision', sa.String(length=16), nullable=True),
    sa.Column('scheduled_text', sa.String(length=200), nullable=True),
    sa.Column('scheduled_day', sa.Date(), nullable=True),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('held_first', sa.Date(), nullable=True),
    sa.Column('held_last', sa.Date(), nullable=True),
    sa.Column('open_from', sa.Date(), nullable=False),
    sa.Column('open_until', sa.Date(), nullable=False),
    sa.Column('first_seen', models.db.UTCDateTime(), nullable=False),
    sa.Column('last_seen', models.db.UTCDateTime(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('source_count', sa.Integer(), nullable=False),
    sa.Column('readout_us', sa.Boolean(), nullable=False),
    sa.Column('readout_china', sa.Boolean(), nullable=False),
    sa.Column('confirmed_by_official', sa.Boolean(), nullable=False),
    sa.Column('grams', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories')),
    sa.UniqueConstraint('key', name=op.f('uq_stories_key'))
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index('ix_stories_open', ['open_until', 'open_from'], unique=False)
        batch_op.create_index('ix_stories_region_open', ['region', 'open_until'], unique=False)

    op.create_table('story_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_people_story_id_stories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_people')),
    sa.UniqueConstraint('person', 'story_id', name='uq_story_people')
    )
    with op.batch_alter_table('story_people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_story_people_story_id'), ['story_id'], unique=False)

    op.create_table('story_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_topics_story_id_stories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_topics')),
    sa.UniqueConstraint('topic', 'story_id', name='uq_story_topics')
    )
    with op.batch_alter_table('story_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_story_topics_story_id'), ['story_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parties_us', sa.String(length=500), nullable=False),
    sa.Column('parties_china', sa.String(length=500), nullable=False),
    sa.Column('place', sa.String(length=60), nullable=True),
    sa.Column('when_start', sa.Date(), nullable=True),
    sa.Column('when_end', sa.Date(), nullable=True),
    sa.Column('when_precision', sa.String(length=16), nullable=True),
    sa.Column('when_text', sa.String(length=200), nullable=True),
    sa.Column('side', sa.String(length=8), nullable=True),
    sa.Column('source_name', sa.String(length=300), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_contacts_item_id_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_contacts_story_id_stories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('item_id', name=op.f('uq_contacts_item_id'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_story_id'), ['story_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_story_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('story_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_topics_story_id'))

    op.drop_table('story_topics')
    with op.batch_alter_table('story_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_story_people_story_id'))

    op.drop_table('story_people')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index('ix_stories_region_open')
        batch_op.drop_index('ix_stories_open')

    op.drop_table('stories')
