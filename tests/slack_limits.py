"""Slack's message limits, checked on what the bot sends."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from handlers.blocks import MAX_BLOCKS, Message


def assert_slack_limits(blocks_: list[dict[str, Any]], max_blocks: int = MAX_BLOCKS) -> None:
    """Slack's limits, checked by slack_sdk's own models plus the ones it does not check."""
    assert len(blocks_) <= max_blocks
    json.dumps(blocks_)
    for block in blocks_:
        Block.parse(block).to_dict()  # type: ignore[union-attr]  # raises past 3000/150/75…
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"].strip()) <= 3000
        if block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])


def assert_message_ok(message: Message) -> None:
    """Within the limits, and with a non-empty text fallback."""
    assert message.text.strip(), "a message needs its text fallback"
    assert len(message.text) <= 3000
    assert_slack_limits(message.blocks)
