"""The App Home tab: current stories (or latest items), the viewer's subscriptions, feed health."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from deps import Deps
from handlers.blocks import home_view
from handlers.reads import feed_view, subscription_view
from models.channel import paused_reasons
from models.feed import all_feeds
from models.item import ItemView, latest
from models.story_view import recent_stories
from models.subscription import listing
from models.upcoming import upcoming
from news.zones import zone

logger = logging.getLogger(__name__)

HOME_ITEMS = 10
HOME_STORIES = 10
HOME_SUBSCRIPTIONS = 300
HOME_UPCOMING = 10


def build_home(deps: Deps, channels: Collection[str] | None) -> dict[str, Any]:
    """The Home view, read in one short session: the subscriptions of `channels` only.

    None (Slack would not say which channels the viewer is in) shows no channel's
    subscriptions, with a note why: never every channel's, which may include private ones.
    Upcoming contacts are the same list as `/diplo upcoming` (no channel: DIPLO_DEFAULT_TZ,
    and the sources' links).
    """
    now = deps.clock()
    with deps.sessions() as s:
        stories = recent_stories(s, HOME_STORIES)
        items = [] if stories else [ItemView.of(i) for i in latest(s, HOME_ITEMS)]
        subs = []
        if channels is not None:
            rows = listing(s, channels, HOME_SUBSCRIPTIONS)
            reasons = paused_reasons(s, {sub.channel_id for sub in rows})
            subs = [subscription_view(sub, reasons.get(sub.channel_id)) for sub in rows]
        feeds = [feed_view(f) for f in all_feeds(s)]
        ahead = upcoming(s, now, zone(None, deps.settings.default_tz), None, HOME_UPCOMING)
    return home_view(
        items,
        subs,
        feeds,
        channels_known=channels is not None,
        stories=stories,
        upcoming=ahead,
    )


def user_channels(client: WebClient, user_id: str) -> set[str] | None:
    """The channels the user is in, or None when Slack won't say (missing scope, error)."""
    channels: set[str] = set()
    cursor = None
    try:
        for _ in range(10):  # at most 2,000 channels
            reply = client.users_conversations(
                user=user_id,
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            )
            listed: list[dict[str, Any]] = reply.get("channels", [])
            channels.update(c["id"] for c in listed)
            cursor = (reply.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as exc:
        error = exc.response.get("error")
        logger.info("users.conversations failed (%s): Home shows no subscriptions", error)
        return None
    except (SlackClientError, OSError) as exc:  # Slack unreachable, a broken answer
        logger.info("users.conversations failed (%s): Home shows no subscriptions", exc)
        return None
    return channels


def register(app: App, deps: Deps) -> None:
    """Publish the Home tab whenever a user opens it."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        channels = user_channels(client, event["user"])
        client.views_publish(user_id=event["user"], view=build_home(deps, channels))
