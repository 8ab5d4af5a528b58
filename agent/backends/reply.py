"""One LLM call within the episode's wall-time budget: per-request timeout and retries.

The OpenAI client is built without retries of its own (see llm.py); here each attempt gets
a timeout of min(the backend's timeout, the wall time left), transient faults (timeouts,
connection errors, 5xx, 429, and a reply with an empty `choices` list) are retried with a
short backoff while time is left, so a slow or broken server can never keep an episode
running much past --max-seconds. Whatever is left is raised as one clear exception.
"""

from __future__ import annotations

import time
from typing import Callable, Optional


class EmptyReply(RuntimeError):
    """The server answered, but its reply held no choices (nothing to read)."""


class OutOfTime(TimeoutError):
    """The wall-time limit ran out before the LLM answered."""


BACKOFF_S = 1.0
"""The wait before the first retry; it doubles before each next one (1, 2, 4 s for 3 retries)."""

TRANSIENT_NAMES = frozenset({"CallTimedOut", "APITimeoutError", "APIConnectionError", "InternalServerError", "RateLimitError",
                             "ServiceUnavailableError", "OverloadedError", "TimeoutException", "ConnectError",
                             "ReadTimeout", "ConnectTimeout", "RemoteProtocolError"})
"""Exception classes that mean "try again" in the provider clients (openai, anthropic, httpx under
mistral and ollama), matched by name so that no client has to be installed to be recognised."""


def _transient(e: Exception) -> bool:
    if any(cls.__name__ in TRANSIENT_NAMES for cls in type(e).__mro__):
        return True
    # e.g. ollama's ResponseError, google's ClientError; httpx's HTTPStatusError (mistral) has a response
    status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


class CallTimedOut(TimeoutError):
    """A call to a client that takes no per-request timeout outlived the time it was given."""


def _invoke_by(model, messages: list, seconds: float):
    """`model.invoke(messages)` waited for at most `seconds`: for clients whose requests take no
    timeout of their own (ollama's, mistral's), so their fixed client timeout cannot outlive
    --max-seconds. A call that runs over is abandoned in its daemon thread (its reply, if any,
    is dropped) and counts as a transient timeout, retried while time is left."""
    import threading

    box: dict = {}

    def call():
        try:
            box["reply"] = model.invoke(messages)
        except BaseException as e:  # handed to the caller's thread, which decides
            box["error"] = e

    worker = threading.Thread(target=call, daemon=True, name="llm-call")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise CallTimedOut(f"the LLM did not answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["reply"]


def _empty_choices(e: IndexError) -> bool:
    """True when `e` is langchain's `generate_prompt(...).generations[0][0]` in
    BaseChatModel.invoke failing on a reply whose `choices` list was empty, not an IndexError
    from anywhere else (a bug in a backend, a tool, a callback), which must surface as itself."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    return code.co_name == "invoke" and \
        code.co_filename.replace("\\", "/").endswith("langchain_core/language_models/chat_models.py")


def invoke_within(backend, model, messages: list, remaining: Optional[Callable[[], float]] = None):
    """`model.invoke(messages)` with the backend's retries; `remaining()` is the wall time left (s)."""
    if backend.timeout is None:  # in-process backends (baseline, replay): no network, nothing to retry
        return model.invoke(messages)
    remaining = remaining or (lambda: backend.timeout)
    attempt = 0
    while True:
        left = remaining()
        if left <= 0:
            raise OutOfTime(f"the wall-time limit ran out waiting for the LLM (after {attempt} attempt(s))")
        attempt += 1
        try:
            if backend.timeout_per_call:
                ai = model.invoke(messages, timeout=max(1.0, min(backend.timeout, left)))
            else:
                ai = _invoke_by(model, messages, max(1.0, min(backend.timeout, left)))
            return ai
        except IndexError as e:
            if not _empty_choices(e):
                raise
            err: Exception = EmptyReply("the LLM server's reply held an empty `choices` list")
        except Exception as e:
            if not _transient(e):
                raise
            err = e
        if attempt > backend.max_retries:
            if isinstance(err, EmptyReply):
                raise EmptyReply(f"{err} (gave up after {attempt} attempts)")
            raise err
        time.sleep(max(0.0, min(BACKOFF_S * 2.0 ** (attempt - 1), remaining() - 1.0)))
