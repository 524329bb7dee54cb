"""Everything that speaks Slack."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing handlers.blocks must not load slack_bolt
    from slack_bolt import Ack, App

    from deps import Deps

logger = logging.getLogger(__name__)


def register_handlers(app: App, deps: Deps) -> None:
    """Attach every listener to the app: `/diplo`, its buttons and the Home tab.

    Catch-alls come last (Bolt runs the first listener that matches), so any other command,
    button or shortcut is still acknowledged: in Socket Mode an unmatched request would
    otherwise never be acked and Slack would show the user an error.
    """
    from handlers import actions, commands, home
    from handlers.blocks import other_command_text

    commands.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)

    anything = re.compile(".*")

    @app.command(anything)
    def other_command(ack: Ack, command: dict[str, Any]) -> None:
        ack(text=other_command_text(command.get("command", "that")))

    @app.action(anything)
    def other_action(ack: Ack) -> None:
        ack()

    @app.shortcut(anything)
    def other_shortcut(ack: Ack) -> None:
        ack()

    @app.view(anything)
    def other_view(ack: Ack) -> None:
        ack()

    @app.event(anything)
    def other_event(event: dict[str, Any]) -> None:
        logger.debug("ignored event %s", event.get("type"))


__all__ = ["register_handlers"]
