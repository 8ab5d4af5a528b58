"""Errors a user (or the LLM) can act on: one line, no traceback."""


class UserError(Exception):
    """Bad input from a person: the CLI prints `error: <message>` and exits non-zero."""


class SubjectError(UserError):
    """A program, model directory or cache entry that cannot become a subject."""
