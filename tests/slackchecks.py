"""Checks on Slack messages the tests share: Block Kit's limits, and that no mrkdwn control came from untrusted text."""

from __future__ import annotations

import re
from pathlib import Path

SLACK_ARCHIVES = Path(__file__).parent / "fixtures" / "slack"  # a week of Slack mentions, channels and forged links
XSS_ARCHIVES = Path(__file__).parent / "fixtures" / "xss"

_CONTROL = re.compile(r"<[^<>]*>")
_OUR_LINK = re.compile(r"<https?://[^\s|<>]+(\|Read the whole answer)?>")


def texts(message: dict) -> list[str]:
    """Every mrkdwn or plain text Slack would render from the message, the notification text included."""
    found = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(element["text"] if isinstance(element["text"], str) else element["text"]["text"])
    return found


def assert_within_slack_limits(message: dict) -> None:
    """Block Kit's published limits: 50 blocks, 3,000 characters per text, button text 75 and value 2,000."""
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    assert len(message["text"]) <= 3000
    block_ids, action_ids = [], []
    for block in blocks:
        if "block_id" in block:
            block_ids.append(block["block_id"])
            assert len(block["block_id"]) <= 255
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(0 < len(element["text"]) <= 3000 for element in block["elements"])
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75 and len(button["value"]) <= 2000
                assert 0 < len(button["accessibility_label"]) <= 75  # what a screen reader says for it
                assert len(button["action_id"]) <= 255
                action_ids.append(button["action_id"])
        for text in [block.get("text"), *block.get("elements", [])]:
            if isinstance(text, dict) and text.get("type") == "mrkdwn":
                assert text["verbatim"] is True  # Slack parses nothing in it by itself
    assert len(set(block_ids)) == len(block_ids) and len(set(action_ids)) == len(action_ids)


def assert_no_forged_controls(message: dict, sharer: str | None = None) -> None:
    """The only <…> sequences are links we built (showing their own address or our label) and the sharer's mention."""
    for text in texts(message):
        for control in _CONTROL.findall(text):
            assert _OUR_LINK.fullmatch(control) or control == f"<@{sharer}>", f"{control!r} in {text[:200]!r}"
