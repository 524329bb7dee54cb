"""Database models; each module holds one table and the queries about it (they never commit)."""

from models.channel import Channel
from models.db import Base
from models.feed import Feed
from models.item import Item
from models.outbox import Alert
from models.seen_request import SeenRequest
from models.subscription import Subscription

__all__ = ["Alert", "Base", "Channel", "Feed", "Item", "SeenRequest", "Subscription"]
