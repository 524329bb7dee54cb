"""Database models; each module holds one table and the queries about it (they never commit)."""

from models.channel import Channel
from models.db import Base
from models.feed import Feed
from models.item import Item
from models.outbox import Alert
from models.seen_request import SeenRequest
from models.story import Contact, Story, StoryPerson, StoryTopic
from models.subscription import Subscription
from models.watch import WatchWord

__all__ = [
    "Alert",
    "Base",
    "Channel",
    "Contact",
    "Feed",
    "Item",
    "SeenRequest",
    "Story",
    "StoryPerson",
    "StoryTopic",
    "Subscription",
    "WatchWord",
]
