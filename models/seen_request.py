"""Signatures of signed Slack requests already handled: a replay within the window is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base, UTCDateTime, insert_ignore, rowcount

# Slack's signature check accepts a timestamp up to 5 minutes either side of now, so one
# signature stays valid for at most 10 minutes after it is first seen.
REPLAY_WINDOW = timedelta(minutes=10)
MAX_SIGNATURE_CHARS = 100


class SeenRequest(Base):
    """One signed HTTP request seen (by its signature), kept for the replay window."""

    __tablename__ = "seen_requests"

    signature: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def first_sighting(s: Session, signature: str, now: datetime) -> bool:
    """Record the signature; True if it is new, False if it was seen before (a replay).

    INSERT ... ON CONFLICT DO NOTHING on the primary key, so two replicas receiving the
    same request at once cannot both get True.
    """
    statement = (
        insert_ignore(s, SeenRequest)
        .values(signature=signature[:MAX_SIGNATURE_CHARS], seen_at=now)
        .on_conflict_do_nothing(index_elements=["signature"])
        .returning(SeenRequest.signature)
    )
    return s.execute(statement).first() is not None


def prune(s: Session, now: datetime) -> int:
    """Forget signatures older than the replay window (they can no longer be verified)."""
    return rowcount(s.execute(delete(SeenRequest).where(SeenRequest.seen_at < now - REPLAY_WINDOW)))
