"""Marks the loop puts on the messages it writes, for programs that read the conversation.

A deterministic investigator reads its history, not prose: the interface stated in the system
prompt, the limit notice of a forced last turn, the input/output pairs of a static dump and its own
phases travel as a mark in the message's `response_metadata` (under MARK), which no LLM provider
sends. The text of every message stays what the LLM reads.
"""

from __future__ import annotations

MARK = "tracr_agent"


def marked(message, **fields):
    """`message` with `fields` in its mark (returned, for chaining)."""
    message.response_metadata = {**message.response_metadata, MARK: {**mark_of(message), **fields}}
    return message


def mark_of(message) -> dict:
    """The message's mark ({} when it has none)."""
    return dict((getattr(message, "response_metadata", None) or {}).get(MARK) or {})
