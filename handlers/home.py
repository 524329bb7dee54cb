"""The App Home tab: latest relevant items, every channel's subscriptions, feed health."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select

from deps import Deps
from handlers.blocks import SubscriptionView, home_view
from handlers.commands import feed_view
from models.feed import all_feeds
from models.item import ItemView, latest
from models.subscription import Subscription

logger = logging.getLogger(__name__)

HOME_ITEMS = 10
HOME_SUBSCRIPTIONS = 300


def build_home(deps: Deps) -> dict[str, Any]:
    """The Home view, read in one short session.

    It shows the subscriptions of every channel, not only the viewer's: finding the
    viewer's channels would need a users.conversations call per view and more scopes.
    """
    with deps.sessions() as s:
        items = [ItemView.of(i) for i in latest(s, HOME_ITEMS)]
        subs = [
            SubscriptionView(sub.channel_id, sub.topic, sub.paused_reason)
            for sub in s.scalars(
                select(Subscription)
                .order_by(Subscription.channel_id, Subscription.topic)
                .limit(HOME_SUBSCRIPTIONS)
            )
        ]
        feeds = [feed_view(f) for f in all_feeds(s)]
    return home_view(items, subs, feeds)


def register(app: App, deps: Deps) -> None:
    """Publish the Home tab whenever a user opens it."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        client.views_publish(user_id=event["user"], view=build_home(deps))
