"""`/diplo`: parse the text into a `Request`, look the sub-command up in a table, run it.

Every sub-command takes `(deps, request, client)` and returns a `Message`; none raises for
anything a user can type. The table below also holds the help text. Replies are rendered in
`handlers.blocks`; the sentences that explain a bad argument live next to the check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from deps import Deps
from handlers.blocks import (
    FailedAlertView,
    FeedView,
    Message,
    StatusReport,
    SubscriptionView,
    code,
    dm_refused_message,
    error_message,
    feed_added_message,
    feed_rejected_message,
    feed_removed_message,
    feeds_message,
    help_message,
    item_list,
    join_failed_note,
    not_admin_message,
    not_seen_message,
    notice,
    quiet_message,
    search_refused_message,
    search_results_message,
    sources_message,
    status_message,
    story_list,
    story_not_found_message,
    story_timeline,
    subscribed_message,
    subscriptions_message,
    threads_message,
    topics_message,
    unknown_topics_message,
    unsubscribed_message,
    usage,
    watch_added_message,
    watch_limit_message,
    watch_refused_message,
    watch_removed_message,
    watching_message,
    why_message,
)
from jobs.catchup import fold_policy
from jobs.feeds import FeedAdded, add_feed_checked
from models.channel import set_quiet, set_threads, threads_on
from models.feed import Feed, all_feeds, last_poll, remove_feed
from models.feed import count_by_source_kind as feeds_by_kind
from models.fold import fold_now
from models.item import ItemView, count_since, latest
from models.item import count_by_source_kind as items_by_kind
from models.outbox import SLACK, failed_reasons, status_counts
from models.search import RECENT_WINDOW, search
from models.story_view import load_story, recent_stories
from models.subscription import (
    ALL_TOPICS,
    Subscription,
    for_channel,
    paused,
    subscribe,
    unsubscribe,
)
from models.watch import add_watches, remove_watches
from models.watch import for_channel as watches_for
from models.why import explain
from news.query import QueryError, parse_query
from news.quiet import URGENT_POLICIES, QuietWindowError, clock_text, parse_window
from news.sources import KINDS
from news.urls import redact_url
from news.watch import MAX_PER_CHANNEL, InvalidPhrase, parse_phrases, validate

logger = logging.getLogger(__name__)

DEFAULT_LATEST = 5
MAX_LATEST = 20
MAX_SEARCH_RESULTS = 10
MAX_TOPICS_PER_COMMAND = 20

# Slack wraps links and mentions in command text: <https://x|x>, <https://x>, <#C1|general>,
# and escapes a literal &, < and > as &amp; &lt; &gt;.
_SLACK_WRAPPED = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_ENTITY = re.compile("|".join(_ENTITIES))
_COUNT = re.compile(r"[0-9]{1,6}")
_NUMBERISH = re.compile(r"[-+]?\.?\d")


@dataclass(frozen=True, slots=True)
class Request:
    """One `/diplo` invocation: the sub-command (lower-case) and its words, unwrapped."""

    name: str
    args: tuple[str, ...]
    channel_id: str
    user_id: str


def unwrap_slack_text(text: str) -> str:
    """Undo Slack's formatting of command text: `<https://x|label>` → `https://x`, `&amp;` → `&`."""
    unwrapped = _SLACK_WRAPPED.sub(lambda m: m.group(1), text)
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], unwrapped)


def parse_command(text: str, channel_id: str, user_id: str) -> Request:
    """Split `/diplo` text into a Request; pure, and never raises (empty text means help)."""
    words = unwrap_slack_text(text if isinstance(text, str) else "").split()
    name = words[0].lower() if words else "help"
    return Request(
        name=ALIASES.get(name, name),
        args=tuple(words[1:]),
        channel_id=channel_id if isinstance(channel_id, str) else "",
        user_id=user_id if isinstance(user_id, str) else "",
    )


def run_command(deps: Deps, request: Request, client: WebClient) -> Message:
    """Run a parsed request and return the reply; a crash becomes a polite, logged error."""
    command = COMMANDS.get(request.name)
    if command is None:
        return help_reply(f"Unknown command {code(request.name, 40)}.")
    try:
        return command.run(deps, request, client)
    except Exception:
        logger.exception("/diplo %s failed (user %s)", request.name, request.user_id)
        return error_message()


def help_reply(reason: str | None = None) -> Message:
    """The usage of every sub-command, after `reason` (mrkdwn, escaped) if given."""
    return help_message([(c.usage, c.summary) for c in COMMANDS.values()], reason)


def _usage(name: str, problem: str) -> Message:
    return notice(f"{problem} Usage: {usage(COMMANDS[name].usage)}")


def _topics(deps: Deps) -> dict[str, str]:
    return dict(deps.classifier.topics)


def _words(args: Sequence[str]) -> list[str]:
    """Lower-cased, without repeats, in order; commas between topics are allowed."""
    words = [w.strip().lower() for arg in args for w in arg.split(",")]
    return list(dict.fromkeys(w for w in words if w))


# --- sub-commands ---------------------------------------------------------------------------


def show_help(deps: Deps, request: Request, client: WebClient) -> Message:
    """`help`."""
    return help_reply()


def show_latest(deps: Deps, request: Request, client: WebClient) -> Message:
    """`latest [N] [topic]`: the N newest relevant items, optionally on one topic."""
    count: int | None = None
    topic: str | None = None
    for arg in request.args:
        if _COUNT.fullmatch(arg) or _NUMBERISH.match(arg):
            if count is not None:
                return _usage("latest", "Give at most one number.")
            if not _COUNT.fullmatch(arg) or not 1 <= int(arg) <= MAX_LATEST:
                return _usage("latest", f"{code(arg, 20)} is not a number from 1 to {MAX_LATEST}.")
            count = int(arg)
        elif topic is not None:
            return _usage("latest", "Give at most one topic.")
        else:
            topic = arg.lower()
    topics = _topics(deps)
    if topic is not None and topic != ALL_TOPICS and topic not in topics:
        return unknown_topics_message([topic], list(topics))
    if topic == ALL_TOPICS:
        topic = None
    count = count or DEFAULT_LATEST
    with deps.sessions() as s:
        stories = recent_stories(s, count, topic)
        items = [] if stories else [ItemView.of(i) for i in latest(s, count, topic)]
    if stories:  # items stored before stories existed are listed as items
        heading = f"Latest stories on {topic}" if topic else "Latest stories"
        return story_list(stories, heading)
    heading = f"Latest relevant items on {topic}" if topic else "Latest relevant items"
    return item_list(items, heading, empty="No relevant items stored yet.")


def show_story(deps: Deps, request: Request, client: WebClient) -> Message:
    """`story <n>`: one story's timeline."""
    if len(request.args) != 1:
        return _usage("story", "Give the story's number (`/diplo latest` shows them).")
    return story_reply(deps, request.args[0].removeprefix("#"))


def story_reply(deps: Deps, number: str) -> Message:
    """The timeline of story `number` (from a command or the Timeline button)."""
    if not _COUNT.fullmatch(number):
        return story_not_found_message(number)
    with deps.sessions() as s:
        story = load_story(s, int(number))
    return story_timeline(story) if story else story_not_found_message(number)


def show_topics(deps: Deps, request: Request, client: WebClient) -> Message:
    """`topics`: the taxonomy, one line each."""
    return topics_message(_topics(deps))


def show_sources(deps: Deps, request: Request, client: WebClient) -> Message:
    """`sources`: the outlets diplo knows, by kind, with feeds and items per kind."""
    outlets: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for source in deps.sources.sources:
        outlets[source.kind].append(source.name)
    with deps.sessions() as s:
        feeds, items = feeds_by_kind(s), items_by_kind(s)
    custom = deps.settings.sources_file is not None
    shown = {k: v for k, v in outlets.items() if v or feeds.get(k) or items.get(k)}
    return sources_message(shown, feeds, items, custom)


def subscription_view(sub: Subscription) -> SubscriptionView:
    """A subscription, detached from the session."""
    return SubscriptionView(sub.channel_id, sub.topic, sub.paused_reason)


def channel_subscriptions(deps: Deps, channel_id: str) -> list[SubscriptionView]:
    """The channel's subscriptions, detached from the session."""
    with deps.sessions() as s:
        return [subscription_view(sub) for sub in for_channel(s, channel_id)]


def add_subscriptions(deps: Deps, request: Request, client: WebClient) -> Message:
    """`subscribe <topic>…`: this channel gets new relevant items on these topics."""
    channel = request.channel_id
    wanted = _words(request.args)
    if not wanted:
        return _usage("subscribe", "Name at least one topic (`/diplo topics` lists them).")
    if channel.startswith("D") or not channel:
        return dm_refused_message()
    if len(wanted) > MAX_TOPICS_PER_COMMAND:
        return _usage("subscribe", "That is more topics than exist.")
    topics = _topics(deps)
    unknown = [t for t in wanted if t != ALL_TOPICS and t not in topics]
    if unknown:
        return unknown_topics_message(unknown, list(topics))
    with deps.sessions.begin() as s:
        before = {sub.topic: sub.paused_reason for sub in for_channel(s, channel)}
        added = subscribe(s, channel, wanted, request.user_id or None, deps.clock())
    resumed = [t for t in wanted if before.get(t)]
    already = [t for t in wanted if t in before and t not in resumed]
    membership = ensure_member(client, channel)
    return subscribed_message(channel, request.user_id, added, resumed, already, membership)


def ensure_member(client: WebClient, channel_id: str) -> str | None:
    """Make sure the bot can post in the channel; None if so, else what to tell the user.

    Public channels are joined (conversations.join is a no-op when already a member). A bot
    cannot join a private channel; it can read its history only as a member, which is how
    membership is checked. New private channels may also have C… IDs: a failed join of one
    then gets the same "invite me" answer.
    """
    try:
        if channel_id.startswith("G"):
            client.conversations_history(channel=channel_id, limit=1)
        else:
            client.conversations_join(channel=channel_id)
        return None
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        logger.info("cannot post to %s: %s", channel_id, error)
        private = channel_id.startswith("G") or error == "method_not_supported_for_channel_type"
        return join_failed_note(private=private, error=error)
    except (SlackClientError, OSError) as exc:
        logger.warning("could not check membership of %s: %s", channel_id, exc)
        return join_failed_note(private=False, error="no answer from Slack")


def drop_subscriptions(deps: Deps, request: Request, client: WebClient) -> Message:
    """`unsubscribe <topic>…|all`: `all` drops every subscription of this channel."""
    words = _words(request.args)
    if not words:
        return _usage("unsubscribe", "Name a topic, or `all`.")
    channel = request.channel_id
    with deps.sessions.begin() as s:
        if words == [ALL_TOPICS]:
            dropped, missing = unsubscribe(s, channel, None), []
        else:
            dropped = unsubscribe(s, channel, words)
            missing = [w for w in words if w not in dropped]
    return unsubscribed_message(channel, request.user_id, dropped, missing)


def unsubscribe_button(deps: Deps, channel_id: str, topic: str) -> Message:
    """The Unsubscribe button: drop one topic, then show the channel's subscriptions again."""
    if not channel_id or not topic:
        return notice("That button has expired. Run `/diplo subscriptions` again.")
    with deps.sessions.begin() as s:
        dropped = unsubscribe(s, channel_id, [topic])
        subs = [subscription_view(sub) for sub in for_channel(s, channel_id)]
    if dropped:
        note = f"Unsubscribed from {code(topic, 40)}."
    else:
        note = f"This channel was not subscribed to {code(topic, 40)}."
    return subscriptions_message(channel_id, subs, note=note)


def show_subscriptions(deps: Deps, request: Request, client: WebClient) -> Message:
    """`subscriptions`: this channel's subscriptions, paused ones with the reason."""
    subs = channel_subscriptions(deps, request.channel_id)
    return subscriptions_message(request.channel_id, subs)


def search_items(deps: Deps, request: Request, client: WebClient) -> Message:
    """`search <words> ["phrase"] [topic:…] [source:…] [since:…]`: newest matches first."""
    try:
        query = parse_query(" ".join(request.args), _topics(deps))
    except QueryError as exc:
        return search_refused_message(str(exc), COMMANDS["search"].usage)
    with deps.sessions() as s:
        result = search(s, query, MAX_SEARCH_RESULTS)
        items = [ItemView.of(i) for i in result.items]
    window = RECENT_WINDOW if result.recent_only else None
    return search_results_message(items, query.shown, query.terms, window)


def set_channel_threads(deps: Deps, request: Request, client: WebClient) -> Message:
    """`threads on|off`: story updates in threads (default), or edits in place."""
    words = _words(request.args)
    channel = request.channel_id
    if channel.startswith("D") or not channel:
        return notice("Threads are a channel setting: run this in the channel.")
    if not words:
        with deps.sessions() as s:
            on = threads_on(s, channel)
        return threads_message(channel, on, changed=False)
    if words not in (["on"], ["off"]):
        return _usage("threads", f"Say `on` or `off`, not {code(' '.join(words), 20)}.")
    on = words == ["on"]
    with deps.sessions.begin() as s:
        before = set_threads(s, channel, on, deps.clock())
    return threads_message(channel, on, changed=before != on)


def set_quiet_hours(deps: Deps, request: Request, client: WebClient) -> Message:
    """`quiet [START-END [urgent none|held|all] | urgent … | off]`: hold alerts at night."""
    channel, args = request.channel_id, list(request.args)
    if channel.startswith("D") or not channel:
        return notice("Quiet hours are a channel setting: run this in the channel.")
    policy = fold_policy(deps.settings)
    now = deps.clock()
    with deps.sessions() as s:
        before = policy.channels(s, [channel])[channel]
    window: tuple[int, int] | None = (
        (before.quiet_start, before.quiet_end)
        if before.quiet_start is not None and before.quiet_end is not None
        else None
    )
    urgent = before.quiet_urgent
    if not args:
        return _quiet_reply(channel, window, urgent, before.tz.key, changed=False)
    lowered = [a.lower() for a in args]
    if lowered == ["off"]:
        window = None
    else:
        cut = lowered.index("urgent") if "urgent" in lowered else len(args)
        if cut < len(args):
            rest = lowered[cut + 1 :]
            if len(rest) != 1 or rest[0] not in URGENT_POLICIES:
                return _usage("quiet", "After `urgent` say `none`, `held` or `all`.")
            urgent = rest[0]
        if cut > 0:
            try:
                window = parse_window(" ".join(args[:cut]))
            except QuietWindowError as e:
                return _usage("quiet", f"{e}")
        elif window is None:
            return _usage("quiet", "Give the quiet hours first, like `22:00-07:00`.")
    with deps.sessions.begin() as s:
        after = replace(before, quiet_start=window[0] if window else None)
        after = replace(after, quiet_end=window[1] if window else None)
        if before.window(now) is not None and after.window(now) is None:
            fold_now(s, channel, now, policy, SLACK)  # what it held comes now
        start, end = window if window else (None, None)
        set_quiet(s, channel, start, end, urgent, now)
    return _quiet_reply(channel, window, urgent, before.tz.key, changed=True)


def _quiet_reply(
    channel: str, window: tuple[int, int] | None, urgent: str, tz: str, changed: bool
) -> Message:
    shown = (clock_text(window[0]), clock_text(window[1])) if window else None
    return quiet_message(channel, shown, urgent, tz, changed)


def feed_view(feed: Feed) -> FeedView:
    """A feed's health, detached from the session."""
    return FeedView(
        url=feed.url,
        title=feed.title,
        status=feed.status,
        last_error=feed.last_error,
        consecutive_failures=feed.consecutive_failures,
        last_polled_at=feed.last_polled_at,
        too_active_count=feed.too_active_count if feed.too_active_since else 0,
    )


def feed_views(deps: Deps) -> list[FeedView]:
    """Every feed and its health."""
    with deps.sessions() as s:
        return [feed_view(f) for f in all_feeds(s)]


def show_status(deps: Deps, request: Request, client: WebClient) -> Message:
    """`status`: feeds, last poll, items today, the alert queue, paused subscriptions."""
    midnight = deps.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with deps.sessions() as s:
        report = StatusReport(
            feeds=[feed_view(f) for f in all_feeds(s)],
            last_poll=last_poll(s),
            items_today=count_since(s, midnight),
            alerts=status_counts(s),
            paused=[subscription_view(sub) for sub in paused(s)],
            failed=[FailedAlertView(*row) for row in failed_reasons(s, 5)],
        )
    return status_message(report)


def manage_feeds(deps: Deps, request: Request, client: WebClient) -> Message:
    """`feeds`, `feeds add <url>`, `feeds remove <url>` (add and remove: admins only)."""
    if not request.args:
        return feeds_message(feed_views(deps))
    action = request.args[0].lower()
    if action not in ("add", "remove"):
        return _usage("feeds", f"{code(action, 20)} is not `add` or `remove`.")
    if len(request.args) != 2:
        return _usage("feeds", f"`feeds {action}` takes exactly one URL.")
    admin = is_admin(deps, client, request.user_id)
    if not admin:
        return not_admin_message(can_check=admin is not None)
    url = request.args[1]
    if action == "remove":
        with deps.sessions.begin() as s:
            removed = remove_feed(s, url)
        if removed:
            logger.info("feed %s removed by %s", redact_url(url), request.user_id)
        return feed_removed_message(url, removed)
    result = add_feed_checked(deps, url, request.user_id or None)
    if isinstance(result, FeedAdded):
        return feed_added_message(result.url, result.title, result.items, result.created)
    return feed_rejected_message(result.url, result.reason)


def is_admin(deps: Deps, client: WebClient, user_id: str) -> bool | None:
    """Whether the user may change the feed list; None when Slack could not say.

    DIPLO_ADMINS decides when set; otherwise workspace admins and owners (users.info).
    """
    if deps.settings.admins:
        return user_id in deps.settings.admins
    if not user_id:
        return False
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except (SlackClientError, OSError) as exc:
        logger.warning("users.info for %s failed: %s", user_id, exc)
        return None
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def add_watch_words(deps: Deps, request: Request, client: WebClient) -> Message:
    """`watch <phrase>… [in <topic>]`: alert news containing these words here."""
    form = COMMANDS["watch"].usage
    channel = request.channel_id
    phrases, topic, bare = parse_phrases(" ".join(request.args))
    if not phrases:
        return watch_refused_message("Name a word, or a phrase in quotes.", form)
    if channel.startswith("D") or not channel:
        return dm_refused_message()
    if len(phrases) > MAX_PER_CHANNEL:
        return watch_limit_message(MAX_PER_CHANNEL, 0)
    topics = _topics(deps)
    topic = None if topic == ALL_TOPICS else topic
    if topic is not None and topic not in topics:
        return unknown_topics_message([topic], list(topics))
    checked: list[tuple[str, str]] = []
    for phrase in phrases:
        try:
            checked.append((" ".join(phrase.split()), validate(phrase)))
        except InvalidPhrase as exc:
            return watch_refused_message(f"{exc} ({phrase.strip()[:60] or 'empty'})", form)
    with deps.sessions.begin() as s:
        result = add_watches(s, channel, checked, topic, request.user_id or None, deps.clock())
        have = len(watches_for(s, channel))
    if result.over_limit:
        return watch_limit_message(MAX_PER_CHANNEL, have)
    membership = ensure_member(client, channel) if result.added else None
    return watch_added_message(
        channel, request.user_id, result.added, result.already, topic, bare, membership
    )


def drop_watch_words(deps: Deps, request: Request, client: WebClient) -> Message:
    """`unwatch <phrase>… [in <topic>]|all`: stop alerting news for these words here."""
    form = COMMANDS["unwatch"].usage
    phrases, topic, bare = parse_phrases(" ".join(request.args))
    if not phrases:
        return watch_refused_message("Name a watched word or phrase, or `all`.", form)
    channel = request.channel_id
    everything = bare == 1 and len(phrases) == 1 and phrases[0].lower() == ALL_TOPICS
    wanted: dict[str, str] = {}
    for phrase in [] if everything else phrases:
        try:
            wanted[validate(phrase)] = " ".join(phrase.split())
        except InvalidPhrase:
            wanted[phrase] = " ".join(phrase.split())  # never stored, so reported as missing
    with deps.sessions.begin() as s:
        dropped = remove_watches(s, channel, None if everything else list(wanted), topic)
    gone = {w.normalized for w in dropped}
    missing = [shown for norm, shown in wanted.items() if norm not in gone]
    names = [(w.phrase, w.topic) for w in dropped]
    return watch_removed_message(channel, request.user_id, names, missing)


def show_watching(deps: Deps, request: Request, client: WebClient) -> Message:
    """`watching`: this channel's watch-words."""
    with deps.sessions() as s:
        watches = [(w.phrase, w.topic) for w in watches_for(s, request.channel_id)]
    return watching_message(request.channel_id, watches, MAX_PER_CHANNEL)


def explain_item(deps: Deps, request: Request, client: WebClient) -> Message:
    """`why <url>`: the stored verdict of an item and whether (or why not) it was alerted here."""
    if len(request.args) != 1:
        return _usage("why", "Give the link of one news item.")
    url = request.args[0]
    with deps.sessions() as s:
        why = explain(s, url, request.channel_id)
    return not_seen_message(url) if why is None else why_message(why)


# --- the table ------------------------------------------------------------------------------

Handler = Callable[[Deps, Request, WebClient], Message]


@dataclass(frozen=True, slots=True)
class Command:
    """A sub-command: what runs, its usage form and a one-line summary for help."""

    run: Handler
    usage: str
    summary: str


COMMANDS: dict[str, Command] = {
    "latest": Command(
        show_latest,
        "latest [N] [topic]",
        f"the N latest stories (default {DEFAULT_LATEST}, at most {MAX_LATEST}), "
        "optionally on one topic",
    ),
    "story": Command(show_story, "story <n>", "one story's timeline: every report, in order"),
    "search": Command(
        search_items,
        'search <words> ["phrase"] [topic:…] [source:…] [since:YYYY-MM-DD]',
        f"stored items containing all the words (newest {MAX_SEARCH_RESULTS} first)",
    ),
    "topics": Command(show_topics, "topics", "the topics you can subscribe to"),
    "sources": Command(
        show_sources,
        "sources",
        "the news outlets diplo recognises, by kind (wire, government, state media…)",
    ),
    "subscribe": Command(
        add_subscriptions,
        "subscribe <topic> [<topic>…]",
        "post new relevant items on these topics (or `all`) to this channel",
    ),
    "unsubscribe": Command(
        drop_subscriptions, "unsubscribe <topic>|all", "stop posting these topics (or any) here"
    ),
    "subscriptions": Command(
        show_subscriptions,
        "subscriptions",
        "this channel's subscriptions, with buttons to drop them",
    ),
    "threads": Command(
        set_channel_threads,
        "threads [on|off]",
        "new reports of a story as replies in its thread (on, the default), or the story "
        "message edited in place (off)",
    ),
    "quiet": Command(
        set_quiet_hours,
        "quiet [HH:MM-HH:MM [urgent none|held|all] | off]",
        "quiet hours in the channel's time zone: alerts wait and come as one catch-up "
        "message; urgent contacts (took place, officially confirmed: `all`) still post",
    ),
    "watch": Command(
        add_watch_words,
        'watch "<phrase>" [in <topic>]',
        f"also post relevant or related news containing this word or phrase here, "
        f"without a subscription (at most {MAX_PER_CHANNEL} per channel)",
    ),
    "unwatch": Command(
        drop_watch_words, 'unwatch "<phrase>"|all', "stop watching this phrase (or any) here"
    ),
    "watching": Command(show_watching, "watching", "this channel's watch-words"),
    "why": Command(
        explain_item,
        "why <url>",
        "the verdict on a news link and why it was (or was not) posted here",
    ),
    "status": Command(
        show_status, "status", "feed health, last poll, alert queue, paused subscriptions"
    ),
    "feeds": Command(
        manage_feeds, "feeds [add|remove <url>]", "the feeds polled; admins can add or remove one"
    ),
    "help": Command(show_help, "help", "this message"),
}

ALIASES = {
    "sub": "subscribe",
    "unsub": "unsubscribe",
    "subs": "subscriptions",
    "feed": "feeds",
    "find": "search",
    "news": "latest",
    "?": "help",
    "-h": "help",
    "--help": "help",
}


# --- Slack wiring ---------------------------------------------------------------------------


def register(app: App, deps: Deps) -> None:
    """Listen for `/diplo` (also a renamed `/diplo-dev` and the like)."""

    @app.command(re.compile(r"^/diplo\b"))
    def diplo(ack: Ack, command: dict[str, str], respond: Respond, client: WebClient) -> None:
        ack()  # first: Slack gives up after 3 s
        request = parse_command(
            command.get("text", ""), command.get("channel_id", ""), command.get("user_id", "")
        )
        reply = run_command(deps, request, client)
        respond(
            text=reply.text,
            blocks=reply.blocks,
            response_type="in_channel" if reply.public else "ephemeral",
        )
