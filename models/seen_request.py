"""Signatures of signed Slack requests already handled: a replay within the window is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, UTCDateTime


class SeenRequest(Base):
    """One signed HTTP request seen (by its signature), kept for the replay window."""

    __tablename__ = "seen_requests"

    signature: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
