"""Buttons: Unsubscribe on the subscriptions list, Timeline on story lists."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from deps import Deps
from handlers.blocks import STORY_ACTION, UNSUBSCRIBE_ACTION
from handlers.commands import story_reply, unsubscribe_button


def register(app: App, deps: Deps) -> None:
    """Listen for `diplo_unsubscribe` (value = topic; the channel comes from the payload)."""

    @app.action(UNSUBSCRIBE_ACTION)
    def unsubscribe(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        channel_id = str((body.get("channel") or {}).get("id") or "")
        reply = unsubscribe_button(deps, channel_id, str(action.get("value") or ""))
        respond(text=reply.text, blocks=reply.blocks, replace_original=True)

    @app.action(STORY_ACTION)
    def story_timeline(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        channel_id = str((body.get("channel") or {}).get("id") or "") or None
        reply = story_reply(deps, str(action.get("value") or ""), channel_id)
        respond(text=reply.text, blocks=reply.blocks, replace_original=False)
