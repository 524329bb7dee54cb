"""All Block Kit and the sentences a user sees; pure functions from plain data to messages.

Slack's limits are enforced here, not trusted to callers: at most 50 blocks per message
(100 in a Home tab), 3000 characters per section, 150 per header, 75 per button label.
Every message has a plain `text` fallback. Everything that came from a feed or from a user
goes through `escape_mrkdwn` so it can never ping, mention or disguise a link. The exception:
`handlers.commands` words its own short replies (why an argument is refused, the headings of
item lists) next to the code that decides them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from models.channel import ChannelSettings
from models.digest import DigestStory, DigestView
from models.item import ItemView
from models.outbox import OP_NAMES
from models.story_view import StoryEntry, StoryView
from models.upcoming import UpcomingContact
from models.why import Why
from news.query import Term, match_spans
from news.reminders import duration_words, offset_text
from news.text import truncate
from news.urls import is_http_url, redact_text, redact_url
from news.zones import BEIJING

BEIJING_ZONES = frozenset({BEIJING, "Asia/Chongqing", "Asia/Harbin", "PRC"})

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_LIMIT = 3000
TEXT_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_LIMIT = 75
CONTEXT_ELEMENTS = 10
PLAIN_TEXT_LIMIT = 2000  # the text-only form of an alert Slack refused as built
MIN_LABEL = 12  # a link's label is never cut shorter; the link moves to its own block

UNSUBSCRIBE_ACTION = "diplo_unsubscribe"
_CHANNEL_ID = re.compile(r"^[A-Z0-9]{2,30}$")

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """A Slack message: the plain `text` fallback (always set) and its blocks.

    `public` marks a command reply the whole channel should see (`response_type=in_channel`);
    every other reply is ephemeral, for the caller only.
    """

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """One channel's subscription to one topic, as shown to users."""

    channel_id: str
    topic: str
    paused_reason: str | None = None


@dataclass(frozen=True, slots=True)
class FeedView:
    """One feed and its health, as shown to users."""

    url: str
    title: str | None
    status: str  # ok | failing | disabled
    last_error: str | None = None
    consecutive_failures: int = 0
    last_polled_at: datetime | None = None
    too_active_count: int = 0  # > 0: its last poll brought this many new relevant items

    @property
    def needs_attention(self) -> bool:
        """Failing, disabled or too active."""
        return self.status != "ok" or self.too_active_count > 0


@dataclass(frozen=True, slots=True)
class FailedAlertView:
    """An alert given up for good, and why."""

    channel_id: str
    title: str
    error: str | None
    op: str = "post"


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything `/diplo status` shows."""

    feeds: Sequence[FeedView]
    last_poll: datetime | None
    items_today: int
    alerts: Mapping[str, int]  # outbox status -> count
    paused: Sequence[SubscriptionView]
    failed: Sequence[FailedAlertView] = ()  # the most recent ones
    queue: Mapping[str, int] = field(default_factory=dict)  # op -> pending or sending


# --- primitives -----------------------------------------------------------------------------


def escape_mrkdwn(text: str) -> str:
    """Escape `&`, `<`, `>` so feed text can never ping, mention or disguise a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str, limit: int = 80) -> str:
    """User input shown back inside `code`: escaped, cut short, no backticks to break out."""
    cleaned = " ".join(text.replace("`", "'").split())
    return f"`{escape_mrkdwn(truncate(cleaned, limit)) or ' '}`"


def usage(form: str) -> str:
    """`/diplo <form>` as inline code, escaped (a bare `<topic>` would be read as a link)."""
    return f"`/diplo {escape_mrkdwn(form)}`"


def channel_mention(channel_id: str) -> str:
    """`<#C123>` for a well-formed channel ID, else the escaped ID."""
    if _CHANNEL_ID.match(channel_id):
        return f"<#{channel_id}>"
    return escape_mrkdwn(channel_id)


def section(text: str) -> Block:
    """A mrkdwn section, cut to Slack's 3000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def header(text: str) -> Block:
    """A header block (plain text, at most 150 characters)."""
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": _cut(text, HEADER_LIMIT, mrkdwn=False),
            "emoji": True,
        },
    }


def context(*texts: str) -> Block:
    """A context block of up to 10 mrkdwn elements."""
    elements = [{"type": "mrkdwn", "text": _cut(t, SECTION_LIMIT)} for t in texts if t]
    return {"type": "context", "elements": elements[:CONTEXT_ELEMENTS] or [_mrkdwn(" ")]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A button element (label ≤ 75 characters, value ≤ 2000)."""
    element: Block = {
        "type": "button",
        "text": {
            "type": "plain_text",
            "text": _cut(label, BUTTON_LIMIT, mrkdwn=False),
            "emoji": True,
        },
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    return element


def notice(text: str, public: bool = False) -> Message:
    """A one-paragraph reply; `text` is mrkdwn the caller has already escaped."""
    return Message(text=_cut(text, TEXT_LIMIT), blocks=[section(text)], public=public)


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def text_only(message: Message) -> Message:
    """The simplest form of a message: its text fallback alone, well within Slack's limits."""
    return Message(text=_cut(message.text, PLAIN_TEXT_LIMIT), public=message.public)


_PARTIAL_ESCAPE = re.compile(r"&[a-z]{0,3}$")  # the start of `&amp;`, `&lt;` or `&gt;`


def _cut(text: str, limit: int, *, mrkdwn: bool = True) -> str:
    """At most `limit` characters, never an empty string (Slack rejects empty texts).

    In mrkdwn the cut never falls inside an escape (`&amp;`) or a `<…>` link, mention or
    date: those are dropped whole.
    """
    if len(text) > limit:
        head = text[: limit - 1]
        if mrkdwn:
            if head.rfind("<") > head.rfind(">"):
                head = head[: head.rfind("<")]
            head = _PARTIAL_ESCAPE.sub("", head)
        text = head.rstrip() + "…"
    return text if text.strip() else " "


def _fit(blocks: list[Block], limit: int = MAX_BLOCKS) -> list[Block]:
    """Keep at most `limit` blocks; the last one then says how many were left out."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    return [*kept, context(f"…and {len(blocks) - len(kept)} more not shown.")]


def _lines_to_sections(lines: Sequence[str], limit: int = SECTION_LIMIT) -> list[Block]:
    """Pack lines into as few sections as fit in 3000 characters each."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines:
        line = _cut(line, limit)
        if chunk and len(chunk) + 1 + len(line) > limit:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(section(chunk))
    return blocks


def _label(text: str) -> str:
    return escape_mrkdwn(text).replace("|", "¦")


def _target(url: str | None) -> str | None:
    """The escaped link target for an http(s) URL, else None."""
    if url and is_http_url(url):
        return escape_mrkdwn(url).replace("|", "%7C")
    return None


def _link(url: str | None, label: str, room: int = 1000) -> str:
    """`label` linked to `url` in at most `room` characters (the label alone if no room)."""
    return _link_within(url, label, room) or _cut(_label(label), room)


def _link_within(url: str | None, label: str, room: int) -> str | None:
    """`_link` in at most `room` characters, the label cut (never the URL) to fit.

    None when the URL leaves no room for a label of MIN_LABEL characters.
    """
    target = _target(url)
    if target is None:
        return _cut(_label(label), max(room, 1))
    space = room - len(target) - 3  # `<`, `|`, `>`
    if space < MIN_LABEL:
        return None
    return f"<{target}|{_cut(_label(label), space)}>"


def _titled(url: str | None, title: str, rest: str) -> list[Block]:
    """A section: the bold linked title, then `rest` (mrkdwn); the link fits whatever its length.

    The escaped length is what counts. A URL too long to share the section with a
    MIN_LABEL title gets a section of its own, and one too long for any block (past
    about 2980 escaped characters) is left out: Slack has no longer link.
    """
    room = SECTION_LIMIT - len(rest) - 2
    linked = _link_within(url, title, room)
    if linked is not None:
        return [section(f"*{linked}*{rest}")]
    blocks = [section(f"*{_cut(_label(title), room)}*{rest}")]
    own = _link_within(url, "Open the article", SECTION_LIMIT)
    return blocks + ([section(own)] if own else [])


def _date(when: datetime, tz: tzinfo | None = None, *, beijing: bool = False) -> str:
    """A time in the channel's zone `tz`, zone named (Beijing time beside when `beijing`).

    Without a channel (App Home, a DM) Slack shows it in each reader's own zone.
    """
    if tz is not None:
        return local_time(when, tz, beijing=beijing)
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _when(item: ItemView, tz: tzinfo | None = None, *, beijing: bool = False) -> str:
    return _date(item.published_at, tz, beijing=beijing)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# --- alerts and item lists --------------------------------------------------------------------


SOURCE_KIND_LABELS = {
    "wire": "wire",
    "official-us": "US government",
    "official-china": "Chinese government",
    "state-media-china": "Chinese state media",
}
SOURCE_KIND_TITLES = {
    "wire": "Wire services",
    "official-us": "US government",
    "official-china": "Chinese government",
    "state-media-china": "Chinese state media",
    "major": "Major outlets",
    "other": "Other outlets",
}


def source_label(name: str | None, kind: str | None) -> str:
    """An outlet as shown on an alert (plain text): "Xinhua · Chinese state media", "BBC"."""
    shown = truncate(" ".join((name or "").split()), 80) or "unknown source"
    label = SOURCE_KIND_LABELS.get(kind or "")
    return f"{shown} · {label}" if label and label.casefold() != shown.casefold() else shown


def _source_of(item: ItemView, limit: int = 120) -> str:
    return escape_mrkdwn(truncate(source_label(item.source, item.source_kind), limit))


def alert_message(
    item: ItemView, watch_phrase: str | None = None, tz: tzinfo | None = None
) -> Message:
    """The alert posted to a subscribed channel for one relevant (or watched) item.

    `watch_phrase`: the channel's watch-word the item matched (shown in its own context line);
    `tz`: the channel's zone, for the time.
    """
    title = truncate(item.title, 250) or "Untitled"
    source = _source_of(item)
    topics = ", ".join(item.topics) or "—"
    blocks = _titled(item.url, title, f"\n{source} · {_when(item, tz)}")
    if item.summary.strip():
        blocks.append(section(escape_mrkdwn(truncate(item.summary, 500))))
    why = escape_mrkdwn(truncate("; ".join(item.reasons[:6]), 300)) if item.reasons else ""
    blocks.append(context(f"Topics: {escape_mrkdwn(topics)}" + (f" · Why: {why}" if why else "")))
    text = _cut(f"{escape_mrkdwn(item.title)} ({source})", TEXT_LIMIT)
    if watch_phrase:
        related = " · related news, not a leaders' contact" if item.label == "related" else ""
        blocks.append(context(f":mag: Watching: {_quoted(watch_phrase)}{related}"))
        text = _cut(f"{text} · Watching: {_quoted(watch_phrase)}", TEXT_LIMIT)
    return Message(text=text, blocks=blocks)


def _quoted(phrase: str) -> str:
    """A watch-word in double quotes, escaped, on one line."""
    return f'"{escape_mrkdwn(truncate(" ".join(phrase.split()), 80))}"'


def _item_text(
    item: ItemView, summary_chars: int = 200, show_label: bool = False, tz: tzinfo | None = None
) -> str:
    """One item as mrkdwn: linked title, source, date, topics, a short summary."""
    source = _source_of(item)
    meta = [source, _when(item, tz)]
    if item.topics:
        meta.append(escape_mrkdwn(truncate(", ".join(item.topics), 200)))
    if show_label and item.label and item.label != "relevant":
        meta.append(f"_{escape_mrkdwn(truncate(item.label, 40))}_")
    rest = "\n" + " · ".join(meta)
    if item.summary and summary_chars:
        rest += "\n" + escape_mrkdwn(truncate(item.summary, summary_chars))
    room = SECTION_LIMIT - len(rest) - 2
    title = truncate(item.title, 250)
    linked = _link_within(item.url, title, room) or _cut(_label(title), room)
    return f"*{linked}*{rest}"


def item_list(
    items: Sequence[ItemView],
    heading: str,
    empty: str = "Nothing yet.",
    show_label: bool = False,
    tz: tzinfo | None = None,
) -> Message:
    """A heading (plain text) and one section per item; `empty` (mrkdwn) when there are none.

    `tz`: the channel's zone, for the times.
    """
    title = escape_mrkdwn(heading)
    if not items:
        return notice(f"*{title}*\n{empty}")
    blocks = [section(f"*{title}*")]
    blocks += [section(_item_text(item, show_label=show_label, tz=tz)) for item in items]
    lines = [
        "• "
        + escape_mrkdwn(
            f"{truncate(i.title, 150)} ({truncate(source_label(i.source, i.source_kind), 60)})"
        )
        for i in items
    ]
    return Message(text=_cut(title + "\n" + "\n".join(lines), TEXT_LIMIT), blocks=_fit(blocks))


def sources_message(
    outlets: Mapping[str, Sequence[str]],
    feeds: Mapping[str, int],
    items: Mapping[str, int],
    custom: bool = False,
) -> Message:
    """`/diplo sources`: the known outlets by kind, with how many feeds and items each kind has.

    `outlets`: kind → names, in the order to show; `custom`: read from DIPLO_SOURCES.
    """
    lines = []
    for kind, names in outlets.items():
        title = SOURCE_KIND_TITLES.get(kind, kind)
        counts = f"{_plural(feeds.get(kind, 0), 'feed')}, {_plural(items.get(kind, 0), 'item')}"
        shown = ", ".join(escape_mrkdwn(truncate(n, 60)) for n in names) or "—"
        lines.append(f"*{escape_mrkdwn(title)}* ({counts}): {shown}")
    origin = "DIPLO_SOURCES" if custom else "news/sources.toml"
    head = (
        f"*Known sources* ({_plural(sum(len(n) for n in outlets.values()), 'outlet')}, "
        f"from `{origin}`). Alerts name the outlet and label government and state media."
    )
    blocks = [section(head), *_lines_to_sections(lines)]
    text = _cut(head + "\n" + "\n".join(lines), TEXT_LIMIT)
    return Message(text=text, blocks=_fit(blocks))


# --- search ------------------------------------------------------------------------------------

_NO_BOLD = re.compile(r"[*`~]")  # a span holding these is left plain: it would unpair the bold


def highlight(text: str, terms: Sequence[Term]) -> str:
    """`text` as mrkdwn, escaped, with the matched words in *bold*.

    Each piece is escaped on its own, so an escape (`&amp;`) is never split by a `*`; a
    match is grown to its whole word (news.query.match_spans), so Slack renders the bold.
    """
    out: list[str] = []
    at = 0
    for start, end in match_spans(text, terms):
        piece = text[start:end]
        if _NO_BOLD.search(piece):
            continue
        out.append(escape_mrkdwn(text[at:start]))
        out.append(f"*{escape_mrkdwn(piece)}*")
        at = end
    out.append(escape_mrkdwn(text[at:]))
    return "".join(out)


def _snippet(text: str, terms: Sequence[Term], chars: int) -> str:
    """At most `chars` characters of `text`, around its first match when that lies further on."""
    if len(text) <= chars:
        return text
    spans = match_spans(text, terms)
    first = spans[0][0] if spans else 0
    if first + 40 < chars:
        return truncate(text, chars)
    start = max(0, first - chars // 3)
    return "…" + truncate(text[start:], chars - 1)


def _search_item_text(item: ItemView, terms: Sequence[Term], tz: tzinfo | None) -> str:
    """One search result: the linked title and a summary snippet, matched words in bold."""
    meta = [_source_of(item, 80), _when(item, tz)]
    if item.topics:
        meta.append(escape_mrkdwn(truncate(", ".join(item.topics), 200)))
    if item.label and item.label != "relevant":
        meta.append(f"_{escape_mrkdwn(truncate(item.label, 40))}_")
    rest = "\n" + " · ".join(meta)
    if item.summary.strip():
        rest += "\n" + highlight(_snippet(item.summary, terms, 200), terms)
    label = highlight(truncate(item.title, 250) or "Untitled", terms).replace("|", "¦")
    target = _target(item.url)
    linked = f"<{target}|{label}>" if target else label
    if len(linked) + len(rest) > SECTION_LIMIT:
        linked = label
    return linked + rest


def search_results_message(
    items: Sequence[ItemView],
    shown: str,
    terms: Sequence[Term],
    recent_window: int | None,
    tz: tzinfo | None = None,
) -> Message:
    """Search results, newest first; `recent_window`: only that many newest items were searched.

    `tz`: the channel's zone, for the times.
    """
    title = f"*Stored items matching {code(shown, 200)}*"
    note = None
    if recent_window:
        note = (
            f"Every word is shorter than 3 characters, so only the newest {recent_window:,} "
            "items were searched. Add a longer word to search everything."
        )
    if not items:
        empty = "Nothing stored matches all of that."
        return notice(f"{title}\n{empty}" + (f"\n{note}" if note else ""))
    blocks = [section(title)]
    blocks += [section(_search_item_text(item, terms, tz)) for item in items]
    if note:
        blocks.append(context(note))
    lines = [
        "• " + escape_mrkdwn(f"{truncate(i.title, 150)} ({truncate(i.source or '?', 40)})")
        for i in items
    ]
    text = f"Stored items matching {escape_mrkdwn(shown)}\n" + "\n".join(lines)
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def search_refused_message(reason: str, form: str) -> Message:
    """A query that cannot run: the one-line reason, then the syntax."""
    return notice(
        f"{escape_mrkdwn(reason)} Usage: {usage(form)}, e.g. "
        '`/diplo search "trade deal" topic:trade since:2025-10-01 source:reuters`.'
    )


# --- help, topics, subscriptions ---------------------------------------------------------------


def help_message(forms: Sequence[tuple[str, str]], reason: str | None = None) -> Message:
    """Usage of `/diplo`: one line per sub-command, after `reason` (mrkdwn) if given."""
    lines = [f"{usage(form)} — {escape_mrkdwn(summary)}" for form, summary in forms]
    body = "*How to use `/diplo`*\n" + "\n".join(lines)
    blocks = [section(reason)] if reason else []
    blocks += _lines_to_sections([body])
    listed = "; ".join(f"/diplo {escape_mrkdwn(form)}" for form, _ in forms)
    text = (reason + "\n" if reason else "") + "Usage: " + listed
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def topics_message(topics: Mapping[str, str]) -> Message:
    """The taxonomy, one line per topic, plus the `all` pseudo-topic."""
    lines = [f"• `{escape_mrkdwn(name)}` — {escape_mrkdwn(desc)}" for name, desc in topics.items()]
    lines.append("• `all` — every topic above")
    blocks = [section("*Topics you can subscribe to*"), *_lines_to_sections(lines)]
    blocks.append(context(f"Subscribe this channel with {usage('subscribe <topic> [<topic>…]')}."))
    text = "Topics: " + ", ".join([*topics, "all"])
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def unknown_topics_message(unknown: Sequence[str], topics: Sequence[str]) -> Message:
    """Some words given as topics are not topics."""
    names = ", ".join(code(t, 40) for t in unknown)
    known = ", ".join(f"`{escape_mrkdwn(t)}`" for t in [*topics, "all"])
    noun = "topic" if len(unknown) == 1 else "topics"
    return notice(f"Unknown {noun} {names}. Topics are: {known}.")


def _topic_label(sub: SubscriptionView) -> str:
    label = f"`{escape_mrkdwn(sub.topic)}`"
    if sub.topic == "all":
        label += " (every topic)"
    if sub.paused_reason:
        reason = escape_mrkdwn(truncate(sub.paused_reason, 200))
        label += f" — :double_vertical_bar: paused: {reason}"
    return label


def subscriptions_message(
    channel_id: str, subscriptions: Sequence[SubscriptionView], note: str | None = None
) -> Message:
    """A channel's subscriptions, each with an Unsubscribe button; `note` (mrkdwn) first."""
    where = channel_mention(channel_id)
    blocks: list[Block] = [section(note)] if note else []
    if not subscriptions:
        blocks.append(
            section(
                f"{where} has no subscriptions. See `/diplo topics`, then "
                f"{usage('subscribe <topic>')}."
            )
        )
        text = (note + "\n" if note else "") + f"{where} has no subscriptions."
        return Message(text=_cut(text, TEXT_LIMIT), blocks=blocks)
    blocks.append(section(f"*Subscriptions of {where}*"))
    for sub in subscriptions:
        block = section(_topic_label(sub))
        block["accessory"] = button("Unsubscribe", UNSUBSCRIBE_ACTION, sub.topic)
        blocks.append(block)
    if any(s.paused_reason for s in subscriptions):
        blocks.append(
            context(f"Paused subscriptions resume with {usage('subscribe <topic>')} once fixed.")
        )
    topics = ", ".join(s.topic + (" (paused)" if s.paused_reason else "") for s in subscriptions)
    text = (note + "\n" if note else "") + f"{where} is subscribed to: {escape_mrkdwn(topics)}"
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def subscribed_message(
    channel_id: str,
    user_id: str,
    added: Sequence[str],
    resumed: Sequence[str],
    already: Sequence[str],
    membership: str | None,
    *,
    tz_note: str | None = None,
) -> Message:
    """The reply to `/diplo subscribe`, shown in the channel when something changed.

    `membership` (mrkdwn) says what to do when the bot cannot post there; `tz_note`: the
    zone the channel took from the subscriber's Slack profile (its first subscription).
    """
    where = channel_mention(channel_id)
    parts: list[str] = []
    if added:
        parts.append(f"{_user(user_id)} subscribed {where} to {_topic_names(added)}.")
    if resumed:
        parts.append(f"Resumed the paused {_topic_names(resumed)}.")
    if already:
        parts.append(f"{where} was already subscribed to {_topic_names(already)}.")
    if added or resumed:
        parts.append("New relevant items on these topics will be posted here.")
    if membership:
        parts.append(membership)
    if tz_note:
        parts.append(
            f"Times here are shown in `{escape_mrkdwn(tz_note)}` (your Slack time zone); "
            f"change it with {usage('tz <Area/City>')}."
        )
    return notice(" ".join(parts), public=bool(added or resumed))


def unsubscribed_message(
    channel_id: str, user_id: str, dropped: Sequence[str], missing: Sequence[str]
) -> Message:
    """The reply to `/diplo unsubscribe`, shown in the channel when something changed."""
    where = channel_mention(channel_id)
    parts: list[str] = []
    if dropped:
        parts.append(f"{_user(user_id)} unsubscribed {where} from {_topic_names(dropped)}.")
    if missing:
        parts.append(f"{where} was not subscribed to {_topic_names(missing, user=True)}.")
    if not dropped and not missing:
        parts.append(f"{where} had no subscriptions.")
    return notice(" ".join(parts), public=bool(dropped))


def _user(user_id: str) -> str:
    return f"<@{user_id}>" if _CHANNEL_ID.match(user_id) else "Someone"


def _topic_names(topics: Sequence[str], user: bool = False) -> str:
    names = [code(t, 40) if user else f"`{escape_mrkdwn(t)}`" for t in topics]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def join_failed_note(private: bool, error: str | None = None) -> str:
    """What to do when the bot is not a member of the channel it should post to."""
    if private:
        return (
            ":warning: I'm not a member of this private channel and can't join it by myself, "
            "so alerts can't be posted yet. Invite me with `/invite @diplo`."
        )
    why = f" (Slack said `{escape_mrkdwn(error)}`)" if error else ""
    return (
        f":warning: I could not join this channel{why}, so alerts can't be posted yet. "
        "Invite me with `/invite @diplo`."
    )


def dm_refused_message() -> Message:
    """Subscribing from a direct message."""
    return notice(
        f"Alerts go to channels, not direct messages. Run {usage('subscribe <topic>')} in the "
        "channel that should get them (and `/invite @diplo` there if it's private)."
    )


# --- status and feeds -------------------------------------------------------------------------


def _health(feeds: Sequence[FeedView]) -> str:
    """`3 ok, 1 failing, 0 disabled`."""
    counts = {s: sum(1 for f in feeds if f.status == s) for s in ("ok", "failing", "disabled")}
    return f"{counts['ok']} ok, {counts['failing']} failing, {counts['disabled']} disabled"


def _feed_line(feed: FeedView) -> str:
    icons = {"ok": ":large_green_circle:", "failing": ":red_circle:"}
    icon = icons.get(feed.status, ":white_circle:")
    line = f"{icon} {_feed_link(feed.url, feed.title, 100, SECTION_LIMIT - 300)} — {feed.status}"
    if feed.status != "ok" and feed.last_error:
        fails = f" ×{feed.consecutive_failures}" if feed.consecutive_failures > 1 else ""
        error = escape_mrkdwn(truncate(redact_text(feed.last_error).replace("`", "'"), 200))
        line += f"{fails}: `{error}`"
    if feed.too_active_count:
        line += (
            f" — :warning: too active: {feed.too_active_count} new relevant items in one poll;"
            " only the first ones were alerted"
        )
    return line


def feeds_message(feeds: Sequence[FeedView], note: str | None = None) -> Message:
    """The feed list with each feed's health."""
    blocks: list[Block] = [section(note)] if note else []
    if not feeds:
        add = usage("feeds add <url>")
        blocks.append(section(f"No feeds yet. An admin can add one with {add}."))
        return Message(text=_cut((note or "") + " No feeds yet.", TEXT_LIMIT), blocks=blocks)
    blocks.append(section(f"*{_plural(len(feeds), 'feed')}* — {_health(feeds)}"))
    blocks += _lines_to_sections([_feed_line(f) for f in feeds])
    blocks.append(context(f"Admins: {usage('feeds add <url>')} · {usage('feeds remove <url>')}"))
    text = f"{_plural(len(feeds), 'feed')}: {_health(feeds)}"
    text = (note + "\n" + text) if note else text
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def _feed_link(url: str, title: str | None, chars: int, room: int) -> str:
    """A feed's title linked to its URL in at most `room` characters; a URL with secrets is
    shown redacted, unlinked."""
    shown = redact_url(url)
    label = truncate(title or shown, chars)
    if shown != url:
        return _cut(_label(label), chars * 2) + (f" ({code(shown, 200)})" if title else "")
    return _link_within(url, label, room) or _cut(_label(label), 300)


def feed_added_message(url: str, title: str, items: int, created: bool) -> Message:
    """A feed was stored (or already was)."""
    link = _feed_link(url, title, 150, SECTION_LIMIT - 200)
    if not created and items == 0:
        return notice(f"{link} is already polled.")
    return notice(
        f":white_check_mark: Added {link}. Its {_plural(items, 'current item')} "
        "count as already seen; new ones will be alerted."
    )


def feed_rejected_message(url: str, reason: str) -> Message:
    """A feed could not be added."""
    why = escape_mrkdwn(truncate(redact_text(reason), 500))
    if "blocked_address" in reason:
        why += " — that is a private or local address; only public feeds can be added"
    return notice(f":x: Could not add {code(redact_url(url), 200)}: {why}")


def feed_removed_message(url: str, removed: bool) -> Message:
    """The reply to `/diplo feeds remove`."""
    if removed:
        return notice(f"Removed the feed {code(redact_url(url), 200)}.")
    shown = code(redact_url(url), 200)
    return notice(f"No feed has the URL {shown}. `/diplo feeds` lists them.")


def not_admin_message(can_check: bool = True) -> Message:
    """Only admins may change the feed list."""
    if not can_check:
        return notice(
            "Only admins can change the feed list, and I could not check your role with Slack. "
            "Ask an admin, or set DIPLO_ADMINS."
        )
    return notice("Only admins can change the feed list. `/diplo feeds` shows it to everyone.")


def status_message(report: StatusReport, tz: tzinfo | None = None) -> Message:
    """Feed health, last poll, items today, the alert queue and paused subscriptions.

    `tz`: the channel's zone, for the times.
    """
    feeds = report.feeds
    last = _date(report.last_poll, tz) if report.last_poll else "never"
    queued = report.alerts.get("pending", 0) + report.alerts.get("sending", 0)
    failed_alerts = report.alerts.get("failed", 0)
    overview = (
        f"*diplo status*\n"
        f"• Feeds: {len(feeds)} — {_health(feeds)}\n"
        f"• Last poll: {last}\n"
        f"• Items stored today (UTC): {report.items_today}\n"
        f"• Messages: {queue_text(report.alerts, report.queue)}"
    )
    blocks = [section(overview)]
    troubled = [f for f in feeds if f.needs_attention]
    if troubled:
        blocks.append(section("*Feeds that need attention*"))
        blocks += _lines_to_sections([_feed_line(f) for f in troubled])
    if report.paused:
        lines = [
            f"• {channel_mention(p.channel_id)} `{escape_mrkdwn(p.topic)}`: "
            f"{escape_mrkdwn(truncate(p.paused_reason or 'paused', 200))}"
            for p in report.paused
        ]
        blocks.append(section(f"*Paused subscriptions ({len(report.paused)})*"))
        blocks += _lines_to_sections(lines)
    if report.failed:
        lines = [
            f"• {channel_mention(f.channel_id)} {escape_mrkdwn(truncate(f.title, 120))}: "
            + code(f.error or "failed", 300)
            for f in report.failed
        ]
        blocks.append(section("*Messages that failed for good (most recent)*"))
        blocks += _lines_to_sections(lines)
    text = (
        f"Feeds: {_health(feeds)}. "
        f"Items today: {report.items_today}. Alerts queued: {queued}, failed: {failed_alerts}. "
        f"Paused subscriptions: {len(report.paused)}."
    )
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def queue_text(alerts: Mapping[str, int], queue: Mapping[str, int]) -> str:
    """ "3 queued (2 alerts, 1 reminder), 1 failed, 40 sent, 4 folded, 1 skipped" (plain)."""
    queued = alerts.get("pending", 0) + alerts.get("sending", 0)
    text = f"{queued} queued"
    kinds = [
        f"{n} {OP_NAMES.get(op, op)}{'s' if n != 1 else ''}"
        for op, n in sorted(queue.items(), key=lambda kv: (-kv[1], kv[0]))
        if n
    ]
    if kinds:
        text += f" ({', '.join(kinds)})"
    text += f", {alerts.get('failed', 0)} failed, {alerts.get('sent', 0)} sent"
    if alerts.get("folded"):
        text += f", {alerts['folded']} folded into catch-up or more-stories messages"
    if alerts.get("skipped"):
        text += f", {alerts['skipped']} skipped (out of date when due)"
    return text


def other_command_text(command: str) -> str:
    """The ack for a slash command other than `/diplo` routed to this app."""
    return f"diplo only answers /diplo, not {command}."


def error_message() -> Message:
    """Something broke on our side while answering a command."""
    return notice(
        ":warning: Sorry, something went wrong on my side while answering that. "
        "The error was logged; please try again in a minute."
    )


# --- App Home ---------------------------------------------------------------------------------


HOME_CHANNELS_UNKNOWN = (
    "Slack did not say which channels you are in, so no channel's subscriptions are shown "
    "here. Run `/diplo subscriptions` in a channel to see its own."
)


def home_view(
    items: Sequence[ItemView],
    subscriptions: Sequence[SubscriptionView],
    feeds: Sequence[FeedView],
    channels_known: bool = True,
    stories: Sequence[StoryView] = (),
    upcoming: Sequence[UpcomingContact] | None = None,
) -> dict[str, Any]:
    """The App Home tab: current stories (else latest items), upcoming contacts (when
    given), subscriptions, feed health.

    `channels_known` False: Slack would not say which channels the viewer is in, so no
    channel's subscriptions are listed, and a note says why.
    """
    blocks: list[Block] = [header("Latest US–China diplomacy news")]
    if stories:
        blocks += home_story_blocks(stories)[1:]
    elif items:
        blocks += [section(_item_text(i, summary_chars=0)) for i in items]
    else:
        blocks.append(section("No relevant items yet."))
    if upcoming is not None:
        blocks += [{"type": "divider"}, header("Upcoming contacts")]
        blocks += upcoming_blocks(upcoming[:10], {})
    blocks += [{"type": "divider"}, header("Channel subscriptions")]
    if not channels_known:
        blocks.append(section(HOME_CHANNELS_UNKNOWN))
    elif subscriptions:
        by_channel: dict[str, list[SubscriptionView]] = {}
        for sub in subscriptions:
            by_channel.setdefault(sub.channel_id, []).append(sub)
        lines = [
            f"{channel_mention(ch)}: " + ", ".join(_topic_label(s) for s in subs)
            for ch, subs in by_channel.items()
        ]
        blocks += _lines_to_sections(lines)
    else:
        blocks.append(section("No channel is subscribed yet. Try `/diplo subscribe all` in one."))
    blocks += [{"type": "divider"}, header("Feed health")]
    blocks.append(section(f"{_plural(len(feeds), 'feed')}: {_health(feeds)}"))
    troubled = [f for f in feeds if f.needs_attention]
    if troubled:
        blocks += _lines_to_sections([_feed_line(f) for f in troubled[:30]])
    blocks.append(context("`/diplo help` lists every command."))
    return {"type": "home", "blocks": _fit(blocks, MAX_VIEW_BLOCKS)}


# --- stories ----------------------------------------------------------------------------------

STORY_ACTION = "diplo_story"
FIELD_LIMIT = 2000  # characters per section field
MAX_LINK_URL = 1000  # a longer (escaped) URL is not linked: the label is shown alone
MAX_LISTED = 30  # outlets or items listed in one message before "…and N more"
STAGE_BADGES = {
    "planned": ":spiral_calendar_pad: Planned",
    "held": ":handshake: Held",
    "readout": ":memo: Readout",
    "outcome": ":white_check_mark: Outcome",
    "postponed": ":double_vertical_bar: Postponed",
}
SIDE_NAMES = {"us": "US account", "china": "Chinese account"}


def _badge(stage: str) -> str:
    return STAGE_BADGES.get(stage, escape_mrkdwn(truncate(stage, 30).capitalize() or "New"))


def _stage_name(stage: str) -> str:
    """`Held`: the badge without its emoji, for plain-text fallbacks."""
    return _badge(stage).split(" ", 1)[-1] if stage in STAGE_BADGES else _badge(stage)


def _stage_word(stage: str) -> str:
    return escape_mrkdwn(truncate(stage, 30).lower() or "updated")


def _outlet(entry: StoryEntry) -> str:
    """The outlet of a story's item, labelled like an alert's ("Xinhua · Chinese state media")."""
    return escape_mrkdwn(truncate(source_label(entry.outlet, entry.item.source_kind), 80))


def _story_link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) URL of reasonable length, else the escaped label alone."""
    text = escape_mrkdwn(label)
    target = escape_mrkdwn(url).replace("|", "%7C") if url and is_http_url(url) else ""
    if target and len(target) <= MAX_LINK_URL:
        return f"<{target}|{text.replace('|', '¦')}>"
    return text


def _entry_link(entry: StoryEntry, chars: int = 200) -> str:
    return _story_link(entry.item.url, truncate(entry.item.title, chars) or "untitled")


def _entry_line(
    entry: StoryEntry, chars: int = 200, tz: tzinfo | None = None, beijing: bool = False
) -> str:
    """`Outlet: linked title · date` (`tz`: the channel's zone; `beijing`: Beijing time too)."""
    return (
        f"{_outlet(entry)}: {_entry_link(entry, chars)} · {_when(entry.item, tz, beijing=beijing)}"
    )


def _contact_line(story: StoryView) -> str:
    """Stage badge · kind · parties · place · date, each when known."""
    parts = [f"*{_badge(story.stage)}*"]
    if story.kind:
        parts.append(escape_mrkdwn(truncate(story.kind, 40)))
    if story.parties:
        parts.append(escape_mrkdwn(truncate(" – ".join(story.parties[:6]), 120)))
    if story.where:
        parts.append(escape_mrkdwn(truncate(story.where, 80)))
    if story.when:
        parts.append(story.when.strftime("%d %b %Y"))
    return " · ".join(parts)


def _field(text: str) -> Block:
    return {"type": "mrkdwn", "text": _cut(text, FIELD_LIMIT)}


def _account(side: str, entry: StoryEntry) -> str:
    line = entry.item.summary or entry.item.title
    one_line = escape_mrkdwn(truncate(" ".join(line.split()), 200))
    return (
        f"*{SIDE_NAMES.get(side, side)}* ({_outlet(entry)})\n{_entry_link(entry, 150)}\n{one_line}"
    )


def _listed(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"…and {len(lines) - MAX_LISTED} more"]


def story_text(story: StoryView) -> str:
    """The plain fallback of a story message: stage, headline, outlets."""
    stage = _stage_name(story.stage)
    title = escape_mrkdwn(truncate(story.headline.item.title, 250))
    return _cut(f"[{stage}] {title} ({_plural(len(story.outlets), 'source')})", TEXT_LIMIT)


def story_message(
    story: StoryView, *, list_sources: bool = False, tz: tzinfo | None = None
) -> Message:
    """The story message of a channel: what the contact is, how far it got, who reports it.

    `list_sources` (threads off) lists every item in the message itself; `tz`: the channel's
    zone, for the times (Beijing time beside them for a contact in China).
    """
    in_china = story.in_china
    head = story.headline
    blocks: list[Block] = [
        section(f"*{_entry_link(head, 250)}*\n{_outlet(head)} · {_contact_line(story)}"),
    ]
    sources = _plural(len(story.outlets), "source")
    latest = story.latest
    development = f"*{sources}* · latest: {_entry_line(latest, tz=tz, beijing=in_china)}"
    blocks.append(section(development))
    paired = story.paired
    if paired:
        us, china = paired
        fields = [_field(_account("us", us)), _field(_account("china", china))]
        blocks.append({**section("*Both sides' accounts*"), "fields": fields})
    if list_sources and len(story.entries) > 1:
        lines = _listed([f"• {_entry_line(e, 150, tz, in_china)}" for e in story.entries])
        blocks += _lines_to_sections(lines)[: MAX_BLOCKS - 6]
    reasons = head.item.reasons
    topics = ", ".join(head.item.topics) or "—"
    why = escape_mrkdwn(truncate("; ".join(reasons[:6]), 300)) if reasons else ""
    footer = f"Story #{story.id} · Topics: {escape_mrkdwn(topics)}" + (
        f" · Why: {why}" if why else ""
    )
    blocks.append(context(footer))
    return Message(text=story_text(story), blocks=_fit(blocks))


def story_reply(
    entries: Sequence[StoryEntry], tz: tzinfo | None = None, beijing: bool = False
) -> Message:
    """A thread reply: one item (`Outlet: title`), or a burst as one `+N outlets` message.

    `tz`: the channel's zone, for the times; `beijing`: a contact in China (Beijing time too).
    """
    if not entries:
        return notice("No new reports.")
    if len(entries) == 1:
        line = _entry_line(entries[0], 250, tz, beijing)
        return Message(text=_cut(line, TEXT_LIMIT), blocks=[section(line)])
    outlets = list(dict.fromkeys(_outlet(e) for e in entries))
    count = _plural(len(outlets), "outlet")
    if len(entries) > len(outlets):
        count += f" ({len(entries)} reports)"
    names = ", ".join(outlets[:12]) + (", …" if len(outlets) > 12 else "")
    lines = _listed([f"• {_entry_line(e, 150, tz, beijing)}" for e in entries])
    blocks = [section(f"*+{count}:* {names}"), *_lines_to_sections(lines)]
    return Message(text=_cut(f"+{count}: {names}", TEXT_LIMIT), blocks=_fit(blocks))


def stage_reply(story: StoryView, entry: StoryEntry) -> Message:
    """The reply broadcast to the channel when the contact reaches a new stage."""
    stage = entry.stage or story.stage
    line = f"Now *{_stage_word(stage)}*: {_entry_link(entry, 250)} ({_outlet(entry)})"
    text = f"Now {_stage_word(stage)}: {escape_mrkdwn(truncate(entry.item.title, 250))}"
    return Message(text=_cut(text, TEXT_LIMIT), blocks=[section(line)])


def stage_post(story: StoryView, entry: StoryEntry, story_link: str | None) -> Message:
    """Threads off: the new top-level message of a stage change, linking to the story message."""
    reply = stage_reply(story, entry)
    title = escape_mrkdwn(truncate(story.headline.item.title, 120))
    where = _story_link(story_link, "the story") if story_link else "the story message above"
    blocks = [*reply.blocks, context(f"Story #{story.id}: {title} — see {where}")]
    return Message(text=reply.text, blocks=blocks)


def _story_line(story: StoryView, tz: tzinfo | None = None, now: datetime | None = None) -> str:
    """`Stage · headline · N sources · latest time`, for lists (`tz`: the channel's zone)."""
    latest = _on(story, story.last_seen, tz, now)
    return (
        f"*{_badge(story.stage)}* · {_entry_link(story.headline, 150)}\n"
        f"{_plural(len(story.outlets), 'source')} · latest {latest} · #{story.id}"
    )


def story_list(
    stories: Sequence[StoryView],
    heading: str,
    empty: str = "No stories yet.",
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Message:
    """`/diplo latest`: one section per story, each with a button to its timeline.

    `tz`: the channel's zone, for the times (else Slack shows each reader's own).
    """
    title = escape_mrkdwn(heading)
    if not stories:
        return notice(f"*{title}*\n{empty}")
    blocks = [section(f"*{title}*")]
    for story in stories:
        block = section(_story_line(story, tz, now))
        block["accessory"] = button("Timeline", STORY_ACTION, str(story.id))
        blocks.append(block)
    lines = [
        f"• [{_stage_name(s.stage)}] "
        + escape_mrkdwn(truncate(s.headline.item.title, 150))
        + f" ({_plural(len(s.outlets), 'source')})"
        for s in stories
    ]
    return Message(text=_cut(title + "\n" + "\n".join(lines), TEXT_LIMIT), blocks=_fit(blocks))


def story_timeline(
    story: StoryView, tz: tzinfo | None = None, now: datetime | None = None
) -> Message:
    """`/diplo story <n>`: the story's items in order, with stage, outlet, time and link.

    `tz`: the channel's zone, for the times (else Slack shows each reader's own).
    """
    blocks = [section(f"*{_entry_link(story.headline, 250)}*\n{_contact_line(story)}")]
    lines = [
        f"• {_on(story, e.item.published_at, tz, now)} · *{_badge(e.stage) if e.stage else '—'}* · "
        f"{_outlet(e)}: {_entry_link(e, 150)}"
        for e in story.entries
    ]
    blocks += _lines_to_sections(_listed(lines))
    blocks.append(context(f"Story #{story.id} · {_plural(len(story.outlets), 'source')}"))
    text = f"Story #{story.id}: {story_text(story)}"
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def story_not_found_message(number: str) -> Message:
    """`/diplo story <n>` for a story that does not exist."""
    return notice(f"No story {code(number, 20)}. `/diplo latest` lists the current ones.")


def home_story_blocks(stories: Sequence[StoryView]) -> list[Block]:
    """The App Home section of current stories."""
    blocks: list[Block] = [header("Current stories")]
    if not stories:
        return [*blocks, section("No stories yet.")]
    for story in stories:
        block = section(_story_line(story))
        block["accessory"] = button("Timeline", STORY_ACTION, str(story.id))
        blocks.append(block)
    return blocks


def threads_message(channel_id: str, on: bool, changed: bool) -> Message:
    """The reply to `/diplo threads on|off`."""
    where = channel_mention(channel_id)
    if on:
        how = "new reports of a story go into its thread, and stage changes are also sent here"
    else:
        how = (
            "each story is one message, edited as new reports come in; only a stage change "
            "posts a new message"
        )
    state = "on" if on else "off"
    lead = (
        f"Threads are now *{state}* in {where}"
        if changed
        else f"Threads were already *{state}* in {where}"
    )
    return notice(f"{lead}: {how}.", public=changed)


# --- watch-words and /diplo why ----------------------------------------------------------------


def _watch_label(phrase: str, topic: str | None) -> str:
    return _quoted(phrase) + (f" in `{escape_mrkdwn(topic)}`" if topic else "")


def _phrases(phrases: Sequence[str]) -> str:
    names = [_quoted(p) for p in phrases]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def watch_refused_message(problem: str, form: str) -> Message:
    """A `watch` argument that cannot be used: the one-line `problem` (plain text) and usage."""
    return notice(f"{escape_mrkdwn(problem)} Usage: {usage(form)}")


def watch_limit_message(limit: int, have: int) -> Message:
    """The channel would pass the per-channel number of watch-words."""
    return notice(
        f"A channel can watch at most {limit} words or phrases; this one has {have}. "
        f"Drop some first with {usage('unwatch <phrase>')}."
    )


def watch_added_message(
    channel_id: str,
    user_id: str,
    added: Sequence[str],
    already: Sequence[str],
    topic: str | None,
    bare_words: int,
    membership: str | None,
) -> Message:
    """The reply to `/diplo watch`, shown in the channel when something was added."""
    where = channel_mention(channel_id)
    scope = f" on `{escape_mrkdwn(topic)}`" if topic else ""
    parts: list[str] = []
    if added:
        parts.append(f"{_user(user_id)} made {where} watch {_phrases(added)}{scope}.")
        parts.append(
            "Relevant or related news containing it will be posted here, "
            "even without a subscription."
        )
    if already:
        parts.append(f"{where} already watches {_phrases(already)}{scope}.")
    if added and bare_words > 1:
        parts.append('Each word is watched on its own; put a phrase in quotes: `"rare earths"`.')
    if membership:
        parts.append(membership)
    return notice(" ".join(parts), public=bool(added))


def watch_removed_message(
    channel_id: str,
    user_id: str,
    dropped: Sequence[tuple[str, str | None]],
    missing: Sequence[str],
) -> Message:
    """The reply to `/diplo unwatch` (`dropped`: phrase and topic), public if any was dropped."""
    where = channel_mention(channel_id)
    parts: list[str] = []
    if dropped:
        names = [_watch_label(phrase, topic) for phrase, topic in dropped]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"{_user(user_id)} made {where} stop watching {listed}.")
    if missing:
        parts.append(f"{where} was not watching {_phrases(missing)}.")
    if not dropped and not missing:
        parts.append(f"{where} was not watching anything.")
    return notice(" ".join(parts), public=bool(dropped))


def watching_message(
    channel_id: str, watches: Sequence[tuple[str, str | None]], limit: int
) -> Message:
    """A channel's watch-words (phrase, topic), or how to add one."""
    where = channel_mention(channel_id)
    if not watches:
        return notice(
            f"{where} watches no words. Add one with "
            f'{usage("watch <phrase> [in <topic>]")}, e.g. `/diplo watch "rare earths"`.'
        )
    lines = [f"• {_watch_label(p, t)}" for p, t in watches]
    blocks = [
        section(
            f"*{where} watches {_plural(len(watches), 'word or phrase', 'words or phrases')}*"
            f" (at most {limit})"
        )
    ]
    blocks += _lines_to_sections(lines)
    blocks.append(context(f"Stop with {usage('unwatch <phrase>')} or {usage('unwatch all')}."))
    text = f"{where} watches: " + ", ".join(_watch_label(p, t) for p, t in watches)
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


_SIDES = {
    "us": "US side",
    "china": "China side",
    "pair": "Both sides",
    "event": "Contact",
}
_NEGATIONS = {
    "third-party": "A third party takes part",
    "halt": "The contact is off or on hold",
}


def reason_text(reason: str) -> str:
    """A stored reason code in words: `us:Trump` → "US side: Trump" (unknown codes verbatim)."""
    kind, _, rest = reason.partition(":")
    if kind in _SIDES and rest:
        return f"{_SIDES[kind]}: {rest}"
    if reason == "link:direct":
        return "The two sides are linked directly by the contact"
    if reason == "link:sentence":
        return "Both sides and the contact are in one sentence"
    if kind == "topic" and rest:
        name, _, word = rest.partition(":")
        return f"Topic {name}" + (f" (from “{word}”)" if word else "")
    if kind == "negation" and rest:
        what, _, detail = rest.partition(":")
        label = _NEGATIONS.get(what, f"Ruled out ({what})")
        return f"{label}: {detail}" if detail else label
    return reason


_LABELS = {
    "relevant": "relevant (a US–China leaders' contact)",
    "related": "related (US–China news, not a leaders' contact)",
    "irrelevant": "not relevant",
}


def _not_alerted_text(code_: str | None, why: Why) -> str:
    """Why an item was not posted to the channel, for `/diplo why`."""
    topics = why.item.topics
    if code_ == "not_classified":
        return "it has not been classified yet."
    if code_ == "irrelevant":
        return "it is not about US–China relations, so it is never alerted."
    if code_ == "duplicate":
        earlier = why.duplicate_of
        title = _link(earlier.url, truncate(earlier.title, 150)) if earlier else "another item"
        return f"it repeats {title}, which was alerted first (same headline within 3 days)."
    if code_ == "related_only":
        return (
            "it is only related news; related items are alerted only to channels watching a "
            f"word in them ({usage('watch <phrase>')})."
        )
    if code_ == "not_subscribed":
        names = ", ".join(f"`{escape_mrkdwn(t)}`" for t in topics) or "its topics"
        return f"this channel is not subscribed to {names} ({usage('subscribe <topic>')})."
    if code_ == "paused":
        return "this channel's subscription to its topics is paused (see `/diplo subscriptions`)."
    if code_ == "subscribed_later":
        return "it arrived before this channel subscribed to it or watched for it."
    if code_ == "first_poll":
        return (
            "it was already in the feed when diplo first read it; "
            "a new feed's existing items count as already seen."
        )
    if code_ == "too_active":
        return (
            "its feed was too active (it flooded new items), so its excess was stored, not alerted."
        )
    if code_ == "alerts_off":
        return "live alerts are off here (`/diplo alerts on`); it comes in the digest."
    return "no alert was queued for it here."


def why_message(why: Why, tz: tzinfo | None = None) -> Message:
    """`/diplo why`: the stored verdict of an item, its reasons, and whether it was alerted here.

    `tz`: the channel's zone, for the times.
    """
    item = why.item
    label = _LABELS.get(item.label or "", escape_mrkdwn(item.label or "not classified yet"))
    score = f"{item.score:.2f}" if item.score is not None else "—"
    topics = escape_mrkdwn(", ".join(item.topics)) or "—"
    feed = (
        _feed_link(why.feed_url, why.feed_title, 100, 1000)
        if why.feed_url
        else escape_mrkdwn(truncate(why.feed_title or "a removed feed", 100))
    )
    source = _source_of(item)
    lines = [
        f"*{_link(item.url, truncate(item.title, 250))}*",
        f"• Verdict: {label} · score {score}",
        f"• Topics: {topics}",
        f"• Source: {source} · feed {feed}",
        f"• Published {_date(item.published_at, tz)} · seen {_date(why.fetched_at, tz)}",
    ]
    reasons = [f"  ◦ {escape_mrkdwn(truncate(reason_text(r), 200))}" for r in item.reasons[:12]]
    status = why.alert_status
    via = f" (watch-word {_quoted(why.watch_phrase)})" if why.watch_phrase and status else ""
    if status == "sent":
        sent = f" {_date(why.alert_sent_at, tz)}" if why.alert_sent_at else ""
        here = f":white_check_mark: Alerted to this channel{sent}{via}."
    elif status in ("pending", "sending"):
        here = f":hourglass_flowing_sand: Queued for this channel{via}; it will be posted shortly."
    elif status == "failed":
        error = escape_mrkdwn(truncate(why.alert_error or "unknown error", 200))
        here = f":x: Could not be posted to this channel{via}: `{error}`"
    else:
        here = f":no_bell: Not alerted to this channel: {_not_alerted_text(why.not_alerted, why)}"
        if why.watch_phrase:
            here += f" (It contains this channel's watch-word {_quoted(why.watch_phrase)}.)"
    blocks = [section("\n".join(lines))]
    if reasons:
        blocks += _lines_to_sections(["*Why this verdict*", *reasons])
    blocks.append(section(here))
    text = f"{escape_mrkdwn(truncate(item.title, 200))}: {item.label or 'not classified'}. {here}"
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def not_seen_message(url: str) -> Message:
    """`/diplo why` for a link diplo has never stored."""
    return notice(
        f"I have not seen {code(url, 200)} in any feed. Is its feed in `/diplo feeds`? "
        "Items are known only from feeds diplo polls, from the moment the feed was added."
    )


# --- digests and digest-only channels (issue 11) ----------------------------------------------

DIGEST_TITLES = {"daily": "Daily digest", "weekly": "Weekly digest", "now": "Digest"}
CHART_IN_THREAD = ":bar_chart: Chart of stories and reports per day, by topic: in the thread."
CHART_MISSING = "No chart this time (it could not be made or uploaded)."


def digest_time(when: datetime, zone: tzinfo) -> str:
    """`Sun 1 Nov, 08:00 EST` in the channel's zone (the year only when not this one's)."""
    return local_time(when, zone, now=when)


def _digest_story_line(entry: DigestStory) -> str:
    story = entry.story
    new = f" · {_plural(entry.reports, 'new report')}" if entry.reports else ""
    return (
        f"• *{_badge(story.stage)}* · {_entry_link(story.headline, 150)} · "
        f"{_plural(len(story.outlets), 'source')}{new} · #{story.id}"
    )


def digest_title(kind: str, end: datetime, zone: tzinfo) -> str:
    """`Daily digest · Mon 2 Nov`: the digest's header (plain text), also the chart's title."""
    local = end.astimezone(zone)
    return f"{DIGEST_TITLES.get(kind, 'Digest')} · {local:%a} {local.day} {local:%b %Y}"


def digest_message(view: DigestView, chart: bool | None = None) -> Message:
    """A channel's digest: the period's stories, next week's planned contacts, the chart note.

    `chart`: True when the chart goes in the message's thread, False when it failed, None
    when there was nothing to draw.
    """
    zone = view.zone
    title = digest_title(view.kind, view.end, zone)
    span = f"{digest_time(view.start, zone)} to {digest_time(view.end, zone)}"
    topics = ", ".join(view.topics) if view.topics else "none"
    summary = (
        f"{span} · {_plural(len(view.stories) + view.more_stories, 'story', 'stories')}, "
        f"{_plural(view.reports, 'report')} · Topics: {escape_mrkdwn(truncate(topics, 200))}"
    )
    blocks: list[Block] = [header(title), context(summary)]
    if view.late:
        blocks.append(
            context(":hourglass: Posted late: diplo was not running when this digest was due.")
        )
    if not view.topics and not view.watched:
        blocks.append(section("This channel has no subscriptions, so there is nothing to sum up."))
    elif not view.topics:
        pass  # watch-words only: listed below
    elif view.stories:
        lines = [_digest_story_line(e) for e in view.stories]
        if view.more_stories:
            lines.append(f"…and {view.more_stories} more (`/diplo latest` lists them)")
        blocks += [section("*Stories*"), *_lines_to_sections(lines)]
    else:
        blocks.append(section("No new reports on this channel's topics in this period."))
    if view.watched:
        lines = [
            f"• {_quoted(phrase)}: {_link(item.url, truncate(item.title, 150), 400)}"
            f" · {_source_of(item, 60)}"
            for phrase, item in view.watched
        ]
        if view.more_watched:
            lines.append(f"…and {view.more_watched} more")
        blocks += [section("*Watch-words*"), *_lines_to_sections(lines)]
    if view.upcoming:
        blocks.append(section("*Coming up in the next 7 days*"))
        blocks += upcoming_blocks(view.upcoming, {}, view.end.astimezone(zone).date())
    if chart is not None:
        blocks.append(context(CHART_IN_THREAD if chart else CHART_MISSING))
    count = _plural(len(view.stories) + view.more_stories, "story", "stories")
    text_lines = [f"{title}: {count}"]
    text_lines += [
        f"• [{_stage_name(e.story.stage)}] "
        + escape_mrkdwn(truncate(e.story.headline.item.title, 150))
        for e in view.stories[:10]
    ]
    return Message(text=_cut("\n".join(text_lines), TEXT_LIMIT), blocks=_fit(blocks))


def chart_comment(kind: str) -> str:
    """The comment of the chart file in the digest's thread."""
    return f"{DIGEST_TITLES.get(kind, 'Digest')}: stories and reports per day, by topic (7 days)."


def digest_setting_text(every: str | None, weekday: int | None, at: int | None, tz: str) -> str:
    """`daily at 08:00 (America/New_York)`, or `off`."""
    if not every or at is None:
        return "off"
    clock = f"{at // 60:02d}:{at % 60:02d}"
    when = f"every {WEEKDAY_NAMES[weekday or 0]}" if every == "weekly" else "daily"
    return f"{when} at {clock} ({escape_mrkdwn(tz)})"


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def digest_settings_message(
    channel_id: str, setting: str, changed: bool, next_due: datetime | None, zone: tzinfo
) -> Message:
    """The reply to `/diplo digest [daily|weekly|off]`."""
    where = channel_mention(channel_id)
    if not changed:
        text = f"Digests in {where}: *{setting}*."
        if setting == "off":
            text += " Set one with `/diplo digest daily 08:00` or `/diplo digest weekly mon 08:00`."
        return notice(text)
    if next_due is None:
        return notice(f"Digests are now *off* in {where}.", public=True)
    return notice(
        f"Digests in {where}: *{setting}*. The next one: {digest_time(next_due, zone)}.",
        public=True,
    )


def digest_now_message(queued: bool) -> Message:
    """The reply to `/diplo digest now`."""
    if queued:
        return notice("A digest of this channel's topics is on its way.")
    return notice("A digest was already asked for in the last minute; it is on its way.")


def alerts_message(channel_id: str, on: bool, changed: bool, digest: str) -> Message:
    """The reply to `/diplo alerts [on|off]`."""
    where = channel_mention(channel_id)
    state = "on" if on else "off (digests only)"
    if not changed:
        return notice(f"Live alerts were already *{state}* in {where}.")
    text = f"Live alerts are now *{state}* in {where}."
    if not on:
        text += " Stories still come in the digest"
        text += (
            f" ({digest})."
            if digest != "off"
            else (", but no digest is set: `/diplo digest daily 08:00`.")
        )
        text += " Reminders of planned contacts still come (`/diplo remind off` stops them)."
    return notice(text, public=True)


# --- times, channel settings, upcoming contacts, reminders -------------------------------------

KIND_WORDS = {"call": "call", "meeting": "meeting", "visit": "visit", "talks": "talks"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_UPCOMING = 15  # contacts listed by /diplo upcoming and App Home


def zone_label(when: datetime, tz: tzinfo) -> str:
    """The zone's name at that moment: "EDT", "KST", "GMT"; "Beijing" for China; "UTC+08"."""
    if getattr(tz, "key", None) in BEIJING_ZONES:
        return "Beijing"
    name = when.astimezone(tz).tzname() or "UTC"
    return f"UTC{name}" if name[:1] in "+-" else name


def local_time(
    when: datetime, tz: tzinfo, *, beijing: bool = False, now: datetime | None = None
) -> str:
    """A time in the channel's zone, zone named: "Thu 30 Oct, 11:00 EDT".

    `beijing`: a contact in China, Beijing time beside it ("(23:00 Beijing)"). The year is
    shown when it is not `now`'s (in that zone).
    """
    local = when.astimezone(tz)
    text = f"{local_day(local.date(), now.astimezone(tz).date() if now else None)}, "
    text += f"{local:%H:%M} {zone_label(when, tz)}"
    if beijing and getattr(tz, "key", None) not in BEIJING_ZONES:
        there = when.astimezone(ZoneInfo(BEIJING))
        day = "" if there.date() == local.date() else f"{WEEKDAYS[there.weekday()]} "
        text += f" ({day}{there:%H:%M} Beijing)"
    return text


def local_day(day: date, today: date | None = None) -> str:
    """ "Fri 31 Oct" (with the year unless it is `today`'s year; always without `today`)."""
    text = f"{WEEKDAYS[day.weekday()]} {day.day} {day:%b}"
    return text if today is not None and day.year == today.year else f"{text} {day.year}"


def _on(story: StoryView, when: datetime, tz: tzinfo | None, now: datetime | None) -> str:
    """An item's time: in the channel's zone when known, else in each reader's (Slack)."""
    if tz is None:
        return _date(when)
    return local_time(when, tz, beijing=story.in_china, now=now)


def _offsets_text(offsets: Sequence[int]) -> str:
    return " and ".join(offset_text(m) for m in offsets) + " before"


def _quiet_text(cs: ChannelSettings) -> str:
    if cs.quiet_start is None or cs.quiet_end is None:
        return "off"
    span = f"{cs.quiet_start // 60:02d}:{cs.quiet_start % 60:02d}–"
    span += f"{cs.quiet_end // 60:02d}:{cs.quiet_end % 60:02d}"
    return f"{span} (urgent alerts: {escape_mrkdwn(cs.quiet_urgent)})"


def _digest_text(cs: ChannelSettings) -> str:
    if not cs.digest_every:
        return "off"
    at = cs.digest_at if cs.digest_at is not None else 8 * 60
    hour = f"{at // 60:02d}:{at % 60:02d}"
    if cs.digest_every == "weekly" and cs.digest_weekday is not None:
        return f"weekly, {WEEKDAYS[cs.digest_weekday % 7]} {hour}"
    return f"{escape_mrkdwn(cs.digest_every)} {hour}"


def budget_text(budget: int | None, default: int) -> str:
    """ "20 story messages an hour (the default)", "no budget", …"""
    effective = default if budget is None else budget
    text = f"{effective} story messages an hour" if effective > 0 else "no budget"
    return text + (" (the default)" if budget is None else "")


def budget_message(channel_id: str, budget: int | None, default: int, changed: bool) -> Message:
    """The reply to `/diplo budget`: the channel's flood budget and what it does."""
    where = channel_mention(channel_id)
    shown = budget_text(budget, default)
    lead = f"Flood budget {'now ' if changed else ''}in {where}: *{shown}*."
    if shown != "no budget":
        lead += (
            " Beyond it, further new stories are listed in one “more stories” message that is"
            " edited as they come; replies and edits don't count, urgent stories never fold."
        )
    else:
        lead += " Every new story gets its own message."
    hint = f"Change with {usage('budget <N>')}, {usage('budget off')} or {usage('budget default')}."
    return notice(f"{lead}\n{hint}", public=changed)


def settings_message(cs: ChannelSettings, now: datetime, default_budget: int = 20) -> Message:
    """`/diplo settings`: every setting of the channel, defaults named."""
    zone = escape_mrkdwn(getattr(cs.zone, "key", str(cs.zone)))
    origin = "" if cs.tz else " (the default)"
    budget = budget_text(cs.flood_budget, default_budget)
    paused = (
        f":double_vertical_bar: paused — {escape_mrkdwn(truncate(cs.paused_reason or '', 200))}"
        f" (subscribe again to resume)"
        if cs.paused
        else "no"
    )
    lines = [
        f"*Settings of {channel_mention(cs.channel_id)}*",
        f"• Time zone: `{zone}`{origin} — now {local_time(now, cs.zone, now=now)}",
        f"• Quiet hours: {_quiet_text(cs)}",
        f"• Digest: {_digest_text(cs)}",
        f"• Live alerts: {'on' if cs.alerts_on else 'off (digests only)'}",
        "• Reminders: "
        + (
            _offsets_text(cs.reminders) + " a contact with an exact date" if cs.reminders else "off"
        ),
        f"• Threads: {'on' if cs.threads else 'off (story messages edited in place)'}",
        f"• Flood budget: {budget}",
        f"• Paused: {paused}",
    ]
    hint = (
        f"Change with {usage('tz <Area/City>')}, {usage('remind 24h 1h')} or "
        f"{usage('remind off')}, {usage('threads on|off')}; `/diplo help` lists the others."
    )
    blocks = [section("\n".join(lines)), context(hint)]
    return Message(text=_cut("\n".join(lines), TEXT_LIMIT), blocks=blocks)


def tz_message(channel_id: str, name: str, now: datetime, changed: bool) -> Message:
    """The reply to `/diplo tz`: the channel's zone and the time there now."""
    where = channel_mention(channel_id)
    shown = local_time(now, ZoneInfo(name), now=now)
    if not changed:
        return notice(
            f"{where} shows times in `{escape_mrkdwn(name)}` (now {shown}). "
            f"Change it with {usage('tz <Area/City>')}, e.g. `/diplo tz Europe/London`."
        )
    return notice(
        f"{where} now shows times in `{escape_mrkdwn(name)}` (now {shown}): alerts, "
        "upcoming contacts, reminders and digests.",
        public=True,
    )


def tz_refused_message(raw: str, suggestions: Sequence[str], form: str) -> Message:
    """`/diplo tz` with a name the IANA database does not know."""
    text = f"{code(raw, 60)} is not a time zone in the IANA database."
    if suggestions:
        names = [f"`{escape_mrkdwn(z)}`" for z in suggestions]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        text += f" Did you mean {listed}?"
    text += (
        f" Usage: {usage(form)}, e.g. `/diplo tz America/New_York` or `/diplo tz Asia/Singapore`."
    )
    return notice(text)


def remind_message(channel_id: str, offsets: Sequence[int], changed: bool) -> Message:
    """The reply to `/diplo remind`."""
    where = channel_mention(channel_id)
    if not offsets:
        state = f"Reminders are {'now ' if changed else ''}*off* in {where}."
        return notice(state + f" Turn them on with {usage('remind 24h 1h')}.", public=changed)
    lead = "now gets" if changed else "gets"
    return notice(
        f"{where} {lead} a reminder {_offsets_text(offsets)} each upcoming contact with an "
        "exact date (for the topics it subscribes to).",
        public=changed,
    )


def contact_date(contact: UpcomingContact, today: date | None = None) -> str:
    """The contact's date: its day ("Fri 31 Oct"), or as the source said it, or not announced."""
    when = contact.when
    if when is None:
        return "date not announced"
    if contact.exact_day is not None and when.start == when.end:
        return local_day(when.start, today)
    shown = escape_mrkdwn(truncate(when.display(), 80))
    said = escape_mrkdwn(truncate(contact.said or "", 60))
    if said and said.casefold() not in shown.casefold():
        shown += f" (“{said}”)"
    return shown


def contact_name(contact: UpcomingContact) -> str:
    """ "Trump–Xi meeting in Gyeongju (APEC)" (plain text, unescaped)."""
    parties = "–".join(contact.parties[:4]) or "US–China"
    text = f"{parties} {KIND_WORDS.get(contact.kind, contact.kind or 'contact')}"
    if contact.place:
        text += f" in {contact.place}"
    if contact.forum:
        text += f" ({contact.forum.upper() if len(contact.forum) <= 5 else contact.forum})"
    return truncate(text, 200)


def _contact_lines(contact: UpcomingContact, link: str | None, today: date | None) -> str:
    what = escape_mrkdwn(contact_name(contact))
    parts = [f"*{contact_date(contact, today)}* · {what} · {escape_mrkdwn(contact.kind)}"]
    meta = [_story_link(link or contact.url, truncate(contact.title or "the story", 150))]
    meta.append(_plural(max(contact.source_count, 1), "source"))
    if contact.confirmed_by:
        meta.append(f"confirmed by {escape_mrkdwn(truncate(contact.confirmed_by, 80))}")
    return parts[0] + "\n" + " · ".join(meta)


def upcoming_blocks(
    contacts: Sequence[UpcomingContact],
    links: Mapping[int, str],
    today: date | None = None,
) -> list[Block]:
    """The upcoming contacts as sections (shared by the command and App Home)."""
    if not contacts:
        return [section("No planned contact ahead. `/diplo latest` shows the current stories.")]
    lines = [_contact_lines(c, links.get(c.story_id), today) for c in contacts[:MAX_UPCOMING]]
    return _lines_to_sections(lines)


def upcoming_message(
    contacts: Sequence[UpcomingContact],
    links: Mapping[int, str],
    tz: tzinfo,
    now: datetime,
) -> Message:
    """`/diplo upcoming`: planned contacts soonest first, undated last."""
    zone = escape_mrkdwn(getattr(tz, "key", str(tz)))
    today = now.astimezone(tz).date()
    blocks = [section("*Upcoming contacts*"), *upcoming_blocks(contacts, links, today)]
    blocks.append(
        context(
            f"Dates are the contact's own day where it happens; this channel's zone is `{zone}`."
            " Planned contacts only: one that was held or postponed leaves the list."
        )
    )
    lines = [
        f"• {contact_date(c, today)}: {escape_mrkdwn(contact_name(c))}"
        for c in contacts[:MAX_UPCOMING]
    ]
    text = "Upcoming contacts\n" + ("\n".join(lines) or "none")
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def reminder_message(
    contact: UpcomingContact,
    start: datetime,
    now: datetime,
    tz: tzinfo,
    link: str | None,
) -> Message:
    """A reminder: "In 1 hour: Trump–Xi meeting in Gyeongju (APEC), Fri 31 Oct …" + link.

    `start`: when the contact's day begins where it happens (no source gives the hour).
    """
    left = duration_words(start - now)
    what = escape_mrkdwn(contact_name(contact))
    place_zone = contact.local_zone(tz)
    day = local_day(start.astimezone(place_zone).date(), now.astimezone(place_zone).date())
    there = f"{day} (from 00:00 {zone_label(start, place_zone)}; time of day not announced)"
    here = local_time(start, tz, beijing=contact.in_china, now=now)
    same = getattr(place_zone, "key", None) == getattr(tz, "key", None)
    lead = f":alarm_clock: *In {left}:* {what}, {there}"
    if not same:
        lead += f" — {here} here"
    meta = [_story_link(link or contact.url, truncate(contact.title or "the story", 150))]
    meta.append(_plural(max(contact.source_count, 1), "source"))
    if contact.confirmed_by:
        meta.append(f"confirmed by {escape_mrkdwn(truncate(contact.confirmed_by, 80))}")
    blocks = [section(lead), context(" · ".join(meta) + f" · Story #{contact.story_id}")]
    text = f"In {left}: {what}, {day}" + ("" if same else f" ({here} here)")
    return Message(text=_cut(text, TEXT_LIMIT), blocks=blocks)


# --- quiet hours, catch-ups and the flood budget ----------------------------------------------

CATCHUP_HEADINGS = {
    "quiet": ":crescent_moon: While this channel was quiet",
    "away": ":electric_plug: While diplo was away",
}


def _folded_story_line(story: StoryView) -> str:
    """`• Stage · linked headline · N sources · #id`: one story of a catch-up or "more"."""
    return (
        f"• *{_badge(story.stage)}* · {_entry_link(story.headline, 150)} · "
        f"{_plural(len(story.outlets), 'source')} · #{story.id}"
    )


def _folded_text(stories: Sequence[StoryView]) -> list[str]:
    return [
        f"• [{_stage_name(s.stage)}] {escape_mrkdwn(truncate(s.headline.item.title, 120))}"
        for s in stories
    ]


def catchup_message(
    reason: str,
    since: datetime | None,
    until: datetime | None,
    stories: Sequence[StoryView],
    items: Sequence[ItemView],
    tz: tzinfo | None = None,
) -> Message:
    """The one message standing for what was held: each story once, at its current stage.

    `tz`: the channel's zone, for the times.
    """
    heading = CATCHUP_HEADINGS.get(reason, CATCHUP_HEADINGS["quiet"])
    span = ""
    if since is not None and until is not None:
        span = f" ({_date(since, tz)} – {_date(until, tz)})"
    counts = [_plural(len(stories), "story", "stories")]
    if items:
        counts.append(_plural(len(items), "alert"))
    lead = f"*{heading}*{span}: {' and '.join(counts)}, each at its current stage."
    lines = [_folded_story_line(s) for s in stories]
    lines += [f"• {_source_of(i)}: {_story_link(i.url, truncate(i.title, 150))}" for i in items]
    if not lines:
        lines = ["Nothing left to show: the stories were removed."]
    blocks = [section(lead), *_lines_to_sections(_listed(lines))]
    blocks.append(context("Live alerts resume now. `/diplo latest` lists the current stories."))
    plain = [*_folded_text(stories), *(f"• {escape_mrkdwn(truncate(i.title, 120))}" for i in items)]
    text = f"{heading.split(' ', 1)[1]}: {', '.join(counts)}\n" + "\n".join(plain)
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def more_stories_message(
    stories: Sequence[StoryView], since: datetime | None, tz: tzinfo | None = None
) -> Message:
    """The rolling "more stories" message past the flood budget; edited as more fold in.

    `tz`: the channel's zone, for the time.
    """
    count = _plural(len(stories), "more story", "more stories")
    when = f" since {_date(since, tz)}" if since is not None else ""
    lead = (
        f"*+{count}*{when}: this channel reached its limit of story messages for the hour, "
        "so further new stories are listed here (this message is updated)."
    )
    lines = _listed([_folded_story_line(s) for s in stories]) or ["(none yet)"]
    blocks = [section(lead), *_lines_to_sections(lines)]
    text = f"+{count}:\n" + "\n".join(_folded_text(stories))
    return Message(text=_cut(text, TEXT_LIMIT), blocks=_fit(blocks))


def quiet_message(
    channel_id: str,
    window: tuple[str, str] | None,
    urgent: str,
    tz_name: str,
    changed: bool,
) -> Message:
    """The reply to `/diplo quiet …`: the channel's quiet hours and what bypasses them."""
    where = channel_mention(channel_id)
    if window is None:
        lead = "Quiet hours are now *off*" if changed else "No quiet hours"
        return notice(f"{lead} in {where}: alerts are posted as they come.", public=changed)
    start, end = window
    bypass = {
        "all": "a planned contact that took place, or one an official source confirmed, "
        "is still posted at once",
        "held": "a planned contact that took place is still posted at once",
        "none": "nothing is posted during them, however urgent",
    }.get(urgent, "")
    lead = "Quiet hours are now" if changed else "Quiet hours are"
    text = (
        f"{lead} *{start}–{end}* ({escape_mrkdwn(tz_name)}) in {where}: alerts wait and come "
        f"as one catch-up message at {end}; {bypass} (`urgent {urgent}`)."
    )
    return notice(text, public=changed)
