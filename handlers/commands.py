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

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from deps import Deps
from handlers.blocks import (
    MAX_UPCOMING,
    Message,
    SubscriptionView,
    alerts_message,
    budget_message,
    code,
    digest_now_message,
    digest_setting_text,
    digest_settings_message,
    dm_refused_message,
    error_message,
    escape_mrkdwn,
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
    remind_message,
    search_refused_message,
    search_results_message,
    settings_message,
    sources_message,
    status_message,
    story_list,
    story_not_found_message,
    story_timeline,
    subscribed_message,
    subscriptions_message,
    threads_message,
    topics_message,
    tz_message,
    tz_refused_message,
    unknown_topics_message,
    unsubscribed_message,
    upcoming_message,
    usage,
    watch_added_message,
    watch_limit_message,
    watch_refused_message,
    watch_removed_message,
    watching_message,
    why_message,
)
from handlers.reads import (  # the data of the read-only sub-commands (also the CLI's)
    DEFAULT_LATEST,
    MAX_LATEST,
    MAX_SEARCH_RESULTS,
    SearchRefused,
    UnknownTopic,
    feed_views,
    latest_news,
    search_news,
    sources_report,
    status_report,
    story,
    subscription_view,
)
from handlers.reads import (
    feed_view as feed_view,  # re-exported: older callers import it from here
)
from handlers.reads import (
    topics as _topics,
)
from handlers.sender import make_web_client
from jobs.catchup import fold_policy
from jobs.digests import queue_digest_now
from jobs.feeds import FeedAdded, add_feed_checked
from models.channel import (
    ChannelSettings,
    paused_reasons,
    set_alerts,
    set_digest,
    set_flood_budget,
    set_quiet,
    set_reminders,
    set_threads,
    set_tz,
    set_tz_if_unset,
    settings_of,
    threads_on,
)
from models.feed import remove_feed
from models.fold import fold_now
from models.outbox import SLACK
from models.subscription import ALL_TOPICS, for_channel, subscribe, unsubscribe
from models.upcoming import UpcomingContact, upcoming
from models.watch import add_watches, remove_watches
from models.watch import for_channel as watches_for
from models.why import explain
from news.quiet import URGENT_POLICIES, QuietWindowError, clock_text, parse_window
from news.reminders import BadOffsets, parse_offsets
from news.schedule import DEFAULT_AT, Every, next_due, parse_clock, parse_weekday
from news.urls import redact_url
from news.watch import MAX_PER_CHANNEL, InvalidPhrase, parse_phrases, validate
from news.zones import suggest_zones, zone_name

logger = logging.getLogger(__name__)

MAX_TOPICS_PER_COMMAND = 20
MAX_BUDGET = 1000  # story messages per channel and hour (settings: DIPLO_FLOOD_BUDGET)
USERS_INFO_TIMEOUT = 2.0  # seconds: the subscriber's zone must not hold the reply up

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


def channel_settings(deps: Deps, channel_id: str) -> ChannelSettings:
    """The channel's settings, defaults resolved (its zone: its own, else DIPLO_DEFAULT_TZ)."""
    with deps.sessions() as s:
        return settings_of(s, channel_id, deps.settings.default_tz)


def _usage(name: str, problem: str) -> Message:
    return notice(f"{problem} Usage: {usage(COMMANDS[name].usage)}")


def _words(args: Sequence[str]) -> list[str]:
    """Lower-cased, without repeats, in order; commas between topics are allowed."""
    words = [w.strip().lower() for arg in args for w in arg.split(",")]
    return list(dict.fromkeys(w for w in words if w))


# --- sub-commands ---------------------------------------------------------------------------


def show_help(deps: Deps, request: Request, client: WebClient) -> Message:
    """`help`."""
    return help_reply()


def show_latest(deps: Deps, request: Request, client: WebClient) -> Message:
    """`latest [N] [topic]`: the N newest stories (or relevant items), optionally on one topic."""
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
    found = latest_news(deps, count or DEFAULT_LATEST, topic)
    if isinstance(found, UnknownTopic):
        return unknown_topics_message([found.topic], list(found.known))
    zone = channel_settings(deps, request.channel_id).zone
    if found.stories:  # items stored before stories existed are listed as items
        heading = f"Latest stories on {found.topic}" if found.topic else "Latest stories"
        return story_list(found.stories, heading, tz=zone, now=deps.clock())
    heading = f"Latest relevant items on {found.topic}" if found.topic else "Latest relevant items"
    return item_list(found.items, heading, empty="No relevant items stored yet.", tz=zone)


def show_story(deps: Deps, request: Request, client: WebClient) -> Message:
    """`story <n>`: one story's timeline."""
    if len(request.args) != 1:
        return _usage("story", "Give the story's number (`/diplo latest` shows them).")
    return story_reply(deps, request.args[0].removeprefix("#"), request.channel_id)


def story_reply(deps: Deps, number: str, channel_id: str | None = None) -> Message:
    """The timeline of story `number` (from a command or the Timeline button).

    Times are in `channel_id`'s zone when it is given.
    """
    if not _COUNT.fullmatch(number):
        return story_not_found_message(number)
    found = story(deps, int(number))
    if found is None:
        return story_not_found_message(number)
    zone = channel_settings(deps, channel_id).zone if channel_id else None
    return story_timeline(found, tz=zone, now=deps.clock())


def show_topics(deps: Deps, request: Request, client: WebClient) -> Message:
    """`topics`: the taxonomy, one line each."""
    return topics_message(_topics(deps))


def show_sources(deps: Deps, request: Request, client: WebClient) -> Message:
    """`sources`: the outlets diplo knows, by kind, with feeds and items per kind."""
    report = sources_report(deps)
    return sources_message(report.outlets, report.feeds, report.items, report.custom)


def channel_subscriptions(deps: Deps, channel_id: str) -> list[SubscriptionView]:
    """The channel's subscriptions, detached from the session."""
    with deps.sessions() as s:
        reason = paused_reasons(s, [channel_id]).get(channel_id)
        return [subscription_view(sub, reason) for sub in for_channel(s, channel_id)]


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
        before = [sub.topic for sub in for_channel(s, channel)]
        was_paused = paused_reasons(s, [channel]).get(channel) is not None
        first_zone = not before and settings_of(s, channel).tz is None
        added = subscribe(s, channel, wanted, request.user_id or None, deps.clock())
    # the whole channel resumes: every topic it had
    resumed = before if was_paused else []
    already = [t for t in wanted if t in before and t not in resumed]
    membership = ensure_member(client, channel)
    tz_note = None
    if first_zone and added:
        tz_note = adopt_subscriber_zone(deps, client, channel, request.user_id)
    return subscribed_message(
        channel, request.user_id, added, resumed, already, membership, tz_note=tz_note
    )


def adopt_subscriber_zone(deps: Deps, client: WebClient, channel: str, user_id: str) -> str | None:
    """A channel's first subscription: its zone becomes the subscriber's own (users.info).

    Returns the zone adopted, or None (Slack did not say, or `/diplo tz` set one meanwhile).
    """
    found = user_zone(client, user_id)
    if found is None:
        return None
    with deps.sessions.begin() as s:
        adopted = set_tz_if_unset(s, channel, found, deps.clock())
    return found if adopted else None


def user_zone(client: WebClient, user_id: str) -> str | None:
    """The user's time zone from their Slack profile (users.info `tz`), or None.

    A short timeout and no retries: the command's reply waits for it. Any failure (the
    `users:read` scope missing, Slack slow or down, a bot user without a zone) is None.
    """
    token = client.token
    if not user_id or not token:
        return None
    quick = make_web_client(token, client.base_url, timeout=USERS_INFO_TIMEOUT)
    try:
        user = quick.users_info(user=user_id).get("user") or {}
    except SlackApiError as exc:
        logger.info(
            "users.info for %s failed (%s): default zone", user_id, exc.response.get("error")
        )
        return None
    except (SlackClientError, OSError) as exc:
        logger.info("users.info for %s failed (%s): default zone", user_id, exc)
        return None
    tz = user.get("tz") if isinstance(user, dict) else None
    return zone_name(tz) if isinstance(tz, str) else None


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
        reason = paused_reasons(s, [channel_id]).get(channel_id)
        subs = [subscription_view(sub, reason) for sub in for_channel(s, channel_id)]
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
    found = search_news(deps, " ".join(request.args))
    if isinstance(found, SearchRefused):
        return search_refused_message(found.reason, COMMANDS["search"].usage)
    query = found.query
    zone = channel_settings(deps, request.channel_id).zone
    return search_results_message(
        found.items, query.shown, query.terms, found.recent_window, tz=zone
    )


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


def _channel_only(request: Request) -> Message | None:
    if request.channel_id.startswith("D") or not request.channel_id:
        return notice("Digests and alerts are channel settings: run this in the channel.")
    return None


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


def _in_channel(request: Request) -> bool:
    return bool(request.channel_id) and not request.channel_id.startswith("D")


def show_settings(deps: Deps, request: Request, client: WebClient) -> Message:
    """`settings`: every setting of this channel (ephemeral)."""
    if not _in_channel(request):
        return notice("Settings belong to a channel: run this in the channel.")
    cs = channel_settings(deps, request.channel_id)
    return settings_message(cs, deps.clock(), deps.settings.flood_budget)


def set_channel_budget(deps: Deps, request: Request, client: WebClient) -> Message:
    """`budget [<N>|off|default]`: story messages an hour before they fold into one message."""
    channel, default = request.channel_id, deps.settings.flood_budget
    if not _in_channel(request):
        return notice("The flood budget is a channel setting: run this in the channel.")
    words = _words(request.args)
    if not words:
        cs = channel_settings(deps, channel)
        return budget_message(channel, cs.flood_budget, default, changed=False)
    if len(words) > 1:
        return _usage("budget", "Give one number, `off` or `default`.")
    word = words[0]
    budget: int | None
    if word == "default":
        budget = None
    elif word in ("off", "none", "0"):
        budget = 0
    elif _COUNT.fullmatch(word) and 1 <= int(word) <= MAX_BUDGET:
        budget = int(word)
    else:
        return _usage(
            "budget",
            f"{code(word, 20)} is not a number from 1 to {MAX_BUDGET:,}, `off` or `default`.",
        )
    with deps.sessions.begin() as s:
        set_flood_budget(s, channel, budget, deps.clock())
    return budget_message(channel, budget, default, changed=True)


def set_channel_tz(deps: Deps, request: Request, client: WebClient) -> Message:
    """`tz [<Area/City>|default]`: the zone this channel's times are shown in."""
    channel = request.channel_id
    if not _in_channel(request):
        return notice("The time zone is a channel setting: run this in the channel.")
    if len(request.args) > 1:
        return _usage("tz", "Give one zone name, like `America/New_York`.")
    if not request.args:
        cs = channel_settings(deps, channel)
        return tz_message(channel, getattr(cs.zone, "key", "UTC"), deps.clock(), changed=False)
    raw = request.args[0]
    if raw.lower() == "default":
        name: str | None = None
    else:
        name = zone_name(raw)
        if name is None:
            return tz_refused_message(raw, suggest_zones(raw), COMMANDS["tz"].usage)
    with deps.sessions.begin() as s:
        set_tz(s, channel, name, deps.clock())
    return tz_message(channel, name or deps.settings.default_tz, deps.clock(), changed=True)


def contact_links(
    client: WebClient, channel: str, contacts: Sequence[UpcomingContact]
) -> dict[int, str]:
    """The permalinks of the contacts' story messages posted in the channel.

    One `chat.getPermalink` call, not one per contact: a top-level message's permalink is the
    channel's archive URL and its ts without the dot, so the first link gives the others. A
    link of another shape (or a failed call) falls back to asking for the next one.
    """
    links: dict[int, str] = {}
    base: str | None = None
    for contact in contacts:
        ts = contact.story_ts
        if ts is None:
            continue
        if base is not None:
            links[contact.story_id] = base + ts.replace(".", "")
            continue
        try:
            reply = client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackClientError, OSError) as exc:
            logger.info("no permalink for story %s in %s: %s", contact.story_id, channel, exc)
            continue
        link = reply.get("permalink")
        if isinstance(link, str):
            links[contact.story_id] = link
            base = permalink_base(link, channel, ts)
    return links


def permalink_base(link: str, channel: str, ts: str) -> str | None:
    """ "https://team.slack.com/archives/C1/p" from C1's permalink of `ts`, when it has that
    shape (`https://…/archives/<channel>/p<ts digits>`), else None."""
    tail = f"/archives/{channel}/p{ts.replace('.', '')}"
    if link.startswith("https://") and link.endswith(tail) and "?" not in link:
        return link[: -len(ts.replace(".", ""))]
    return None


def show_upcoming(deps: Deps, request: Request, client: WebClient) -> Message:
    """`upcoming`: planned contacts whose date has not passed, soonest first."""
    if request.args:
        return _usage("upcoming", "It takes no arguments.")
    now = deps.clock()
    with deps.sessions() as s:
        zone = settings_of(s, request.channel_id, deps.settings.default_tz).zone
        channel = request.channel_id if _in_channel(request) else None
        contacts = upcoming(s, now, zone, channel, MAX_UPCOMING)
    links = contact_links(client, request.channel_id, contacts) if channel else {}
    return upcoming_message(contacts, links, zone, now)


def set_channel_reminders(deps: Deps, request: Request, client: WebClient) -> Message:
    """`remind <duration>… | off`: reminders before exact-dated contacts (default 24h 1h)."""
    channel = request.channel_id
    if not _in_channel(request):
        return notice("Reminders are a channel setting: run this in the channel.")
    words = _words(request.args)
    if not words:
        cs = channel_settings(deps, channel)
        return remind_message(channel, cs.reminders, changed=False)
    if words == ["off"]:
        offsets: tuple[int, ...] = ()
    else:
        try:
            offsets = parse_offsets(words)
        except BadOffsets as exc:
            return _usage("remind", escape_mrkdwn(str(exc)))
    with deps.sessions.begin() as s:
        set_reminders(s, channel, offsets, deps.clock())
    return remind_message(channel, offsets, changed=True)


def set_channel_digest(deps: Deps, request: Request, client: WebClient) -> Message:
    """`digest daily [HH:MM]`, `digest weekly <day> [HH:MM]`, `digest off`, `digest now`."""
    if refused := _channel_only(request):
        return refused
    channel, words = request.channel_id, [w.lower() for w in request.args]
    cs = channel_settings(deps, channel)
    zone, tz = cs.zone, cs.zone.key
    shown = digest_setting_text(cs.digest_every, cs.digest_weekday, cs.digest_at, tz)
    if not words:
        return digest_settings_message(channel, shown, changed=False, next_due=None, zone=zone)
    action, rest = words[0], words[1:]
    if action == "now":
        if rest:
            return _usage("digest", "`digest now` takes nothing after it.")
        return digest_now_message(queue_digest_now(deps, channel, cs.digest_every))
    if action == "off":
        if rest:
            return _usage("digest", "`digest off` takes nothing after it.")
        with deps.sessions.begin() as s:
            set_digest(s, channel, None, None, None, deps.clock())
        return digest_settings_message(channel, "off", changed=True, next_due=None, zone=zone)
    if action not in ("daily", "weekly"):
        return _usage("digest", f"Say `daily`, `weekly`, `off` or `now`, not {code(action, 20)}.")
    weekday: int | None = None
    if action == "weekly":
        if not rest:
            return _usage("digest", "Name the day, e.g. `digest weekly mon 08:00`.")
        weekday = parse_weekday(rest[0])
        if weekday is None:
            return _usage("digest", f"{code(rest[0], 20)} is not a day of the week (mon…sun).")
        rest = rest[1:]
    if len(rest) > 1:
        return _usage("digest", "Give one time, e.g. `08:00`.")
    at = parse_clock(rest[0]) if rest else DEFAULT_AT
    if at is None:
        return _usage("digest", f"{code(rest[0], 20)} is not a time: give HH:MM, 24-hour (08:00).")
    every: Every = "weekly" if action == "weekly" else "daily"
    now = deps.clock()
    with deps.sessions.begin() as s:
        set_digest(s, channel, every, weekday, at, now)
    upcoming = next_due(every, weekday, at, zone, now)
    setting = digest_setting_text(every, weekday, at, tz)
    return digest_settings_message(channel, setting, changed=True, next_due=upcoming, zone=zone)


def set_channel_alerts(deps: Deps, request: Request, client: WebClient) -> Message:
    """`alerts on|off`: live alerts (the default), or digests only."""
    if refused := _channel_only(request):
        return refused
    words, channel = _words(request.args), request.channel_id
    cs = channel_settings(deps, channel)
    on = cs.alerts_on
    digest = digest_setting_text(cs.digest_every, cs.digest_weekday, cs.digest_at, cs.zone.key)
    if not words:
        return alerts_message(channel, on, changed=False, digest=digest)
    if words not in (["on"], ["off"]):
        return _usage("alerts", f"Say `on` or `off`, not {code(' '.join(words), 20)}.")
    want = words == ["on"]
    with deps.sessions.begin() as s:
        before = set_alerts(s, channel, want, deps.clock())
    return alerts_message(channel, want, changed=before != want, digest=digest)


def show_status(deps: Deps, request: Request, client: WebClient) -> Message:
    """`status`: feeds, last poll, items today, the alert queue, paused subscriptions."""
    return status_message(status_report(deps), tz=channel_settings(deps, request.channel_id).zone)


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
    if why is None:
        return not_seen_message(url)
    return why_message(why, tz=channel_settings(deps, request.channel_id).zone)


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
    "digest": Command(
        set_channel_digest,
        "digest daily [HH:MM] | weekly <day> [HH:MM] | off | now",
        "a summary of this channel's stories with a chart, at that local time "
        "(default 08:00); `now`: one at once",
    ),
    "alerts": Command(
        set_channel_alerts,
        "alerts [on|off]",
        "live alerts here (on, the default), or none: digests only (off)",
    ),
    "status": Command(
        show_status, "status", "feed health, last poll, alert queue, paused subscriptions"
    ),
    "feeds": Command(
        manage_feeds, "feeds [add|remove <url>]", "the feeds polled; admins can add or remove one"
    ),
    "upcoming": Command(
        show_upcoming,
        "upcoming",
        "planned contacts still ahead, soonest first (undated ones last)",
    ),
    "settings": Command(show_settings, "settings", "this channel's settings"),
    "tz": Command(
        set_channel_tz,
        "tz [<Area/City>|default]",
        "the time zone this channel's times are shown in (IANA name, e.g. Europe/London)",
    ),
    "remind": Command(
        set_channel_reminders,
        "remind <duration>…|off",
        "reminders before contacts with an exact date, e.g. `24h 1h` (the default), `2d`, "
        "`90m`; at most 3, up to 14d",
    ),
    "budget": Command(
        set_channel_budget,
        "budget [<N>|off|default]",
        "new story messages an hour in this channel before further ones fold into one "
        "edited “more stories” message (default from DIPLO_FLOOD_BUDGET)",
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
    "reminders": "remind",
    "timezone": "tz",
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
