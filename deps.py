"""What the jobs and handlers need, built once by bot.py and passed down explicitly."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from models.db import utcnow
from settings import Settings

if TYPE_CHECKING:
    from handlers.sender import Sender
    from jobs.fetch import Fetcher
    from news.relevance import Classifier


def default_owner() -> str:
    """A name for this process in leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Deps:
    """Settings, database sessions and the edges (HTTP, Slack) of one diplo process."""

    settings: Settings
    sessions: sessionmaker[Session]
    fetcher: Fetcher
    classifier: Classifier
    sender: Sender
    clock: Callable[[], datetime] = utcnow
    owner: str = field(default_factory=default_owner)
