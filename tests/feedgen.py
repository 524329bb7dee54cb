"""Build small RSS/Atom documents for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

BASE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    """One entry of a generated feed."""

    title: str
    link: str | None = None
    guid: str | None = None
    summary: str = ""
    published: datetime | None = BASE


def rss(stories: list[Story], title: str = "Test Wire") -> bytes:
    """An RSS 2.0 document with these stories."""
    items = []
    for story in stories:
        parts = [f"<title>{escape(story.title)}</title>"]
        if story.link:
            parts.append(f"<link>{escape(story.link)}</link>")
        if story.guid:
            parts.append(f'<guid isPermaLink="false">{escape(story.guid)}</guid>')
        if story.summary:
            parts.append(f"<description>{escape(story.summary)}</description>")
        if story.published:
            parts.append(f"<pubDate>{format_datetime(story.published)}</pubDate>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://wire.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def wire(n: int, start: int = 0, prefix: str = "Markets") -> list[Story]:
    """`n` unremarkable stories with stable guids."""
    return [
        Story(
            title=f"{prefix} story number {i}",
            link=f"https://wire.example/story/{i}",
            guid=f"wire-{i}",
            published=BASE - timedelta(minutes=i),
        )
        for i in range(start, start + n)
    ]


TRUMP_XI_CALL = Story(
    title="Trump speaks with Xi for two hours, the two to meet at APEC forum in Gyeongju",
    link="https://wire.example/world/trump-xi-call?utm_source=rss&utm_medium=feed",
    guid="wire-trump-xi-call",
    summary="U.S. President Donald Trump and Chinese President Xi Jinping spoke by phone "
    "on Friday and agreed to meet at the APEC summit in South Korea.",
)
