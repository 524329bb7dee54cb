"""What the jobs and handlers need, built once by bot.py and passed down explicitly."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from models.db import utcnow
from ops.metrics import Events
from settings import Settings

if TYPE_CHECKING:
    from handlers.sender import Sender
    from jobs.fetch import Fetcher
    from news.relevance import Classifier


def default_owner() -> str:
    """A name for this process in leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str, me: str | None = None) -> bool:
    """True when a lease owner (`host:pid`, maybe `/suffix`) is a process of this host that ended.

    Only sound at start-up, before this process leases anything: an owner with this very
    host and pid is then a predecessor (a container restarted with the same pid). Owners on
    other hosts, or pids that are alive (or not ours to signal), are never called gone.
    """
    me = me or default_owner()
    host, _, pid = owner.split("/", 1)[0].rpartition(":")
    my_host, _, my_pid = me.rpartition(":")
    if not host or host != my_host or not pid.isdigit():
        return False
    if pid == my_pid:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False
    return False


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
    console_alerts: bool = False  # console mode: queue every relevant item for the console
    events: Events = field(default_factory=Events)  # metrics: what the jobs report
    stopping: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM
    deliver_now: threading.Event = field(default_factory=threading.Event)  # alerts queued
