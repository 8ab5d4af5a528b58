"""Errors a user (or the LLM) can act on: one line, no traceback."""


class UserError(Exception):
    """Bad input from a person: the CLI prints `error: <message>` and exits non-zero."""


class SubjectError(UserError):
    """A program, model directory or cache entry that cannot become a subject."""


class ToolError(Exception):
    """A bad tool call the caller (an agent or a person) can fix; the message says how. `call_tool`
    turns it into the `error: …` text the caller reads."""
