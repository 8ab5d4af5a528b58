"""One LLM call within the episode's wall-time budget: a hard deadline, retries, and clear faults.

The clients are built without retries of their own (see llm.py). Each attempt gets min(the
backend's timeout, the wall time left) as its request timeout where the client takes one, and is
waited for at most that long whatever the client does: an HTTP timeout bounds each read, not the
whole reply, so a server that drips a byte a second would otherwise keep a call (and the episode)
alive indefinitely. Transient faults (timeouts, connection errors, 5xx, 429, a reply with an empty
`choices` list) are retried while time is left, after the server's Retry-After when it sends one
(and at once given up when that is beyond the time left), else after a short backoff. A reply that
is not valid JSON is one clear line. Whatever is left is raised as one clear exception.
"""

from __future__ import annotations

import contextvars
import email.utils
import json
import math
import time
from typing import Callable, Optional


class EmptyReply(RuntimeError):
    """The server answered, but its reply held no choices (nothing to read)."""


class OutOfTime(TimeoutError):
    """The wall-time limit ran out before the LLM answered."""


class MalformedReply(ValueError):
    """The server's reply is not valid JSON."""


MIN_ATTEMPT_S = 0.5
"""Less wall time than this left: no new attempt is started."""


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


def _invoke_by(model, messages: list, seconds: float, per_call: bool = False):
    """`model.invoke(messages)` waited for at most `seconds` (a hard deadline: a reply dripping in
    byte by byte, or a client whose fixed timeout is longer, cannot outlive it). `per_call`: the
    client also takes `timeout=seconds` itself. A call that runs over is abandoned in its daemon
    thread (its reply, if any, is dropped) and counts as a transient timeout, retried while time is
    left."""
    import threading

    box: dict = {}
    kwargs = {"timeout": seconds} if per_call else {}

    def call():
        try:
            box["reply"] = model.invoke(messages, **kwargs)
        except BaseException as e:  # handed to the caller's thread, which decides
            box["error"] = e

    # the caller's context (callbacks, tracing) goes along into the thread
    worker = threading.Thread(target=contextvars.copy_context().run, args=(call,), daemon=True, name="llm-call")
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


def retry_after(e: Exception) -> Optional[float]:
    """The seconds a server asked to wait before retrying (`Retry-After`: seconds or an HTTP date;
    OpenAI's `retry-after-ms`), from the response an exception carries; None when it asked nothing."""
    headers = getattr(getattr(e, "response", None), "headers", None)
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, OverflowError):
                continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def invoke_within(backend, model, messages: list, remaining: Optional[Callable[[], float]] = None):
    """`model.invoke(messages)` with the backend's retries; `remaining()` is the wall time left (s),
    a hard deadline for every attempt and every wait."""
    if backend.timeout is None:  # in-process backends (baseline, replay): no network, nothing to retry
        return model.invoke(messages)
    remaining = remaining or (lambda: backend.timeout)
    attempt = 0
    while True:
        left = remaining()
        if left < MIN_ATTEMPT_S:
            raise OutOfTime(f"the wall-time limit ran out waiting for the LLM (after {attempt} attempt(s))")
        attempt += 1
        try:
            return _invoke_by(model, messages, min(backend.timeout, left), per_call=backend.timeout_per_call)
        except IndexError as e:
            if not _empty_choices(e):
                raise
            err: Exception = EmptyReply("the LLM server's reply held an empty `choices` list")
        except json.JSONDecodeError as e:
            raise MalformedReply(f"the LLM server's reply is not valid JSON ({e.msg} at character {e.pos})") from None
        except Exception as e:
            if not _transient(e):
                raise
            err = e
        if attempt > backend.max_retries:
            if isinstance(err, EmptyReply):
                raise EmptyReply(f"{err} (gave up after {attempt} attempts)")
            raise err
        asked = retry_after(err)
        if asked is not None and asked > remaining() - MIN_ATTEMPT_S:
            raise OutOfTime(f"the LLM server asked to retry after {asked:g} s, more than the {max(0.0, remaining()):.0f} s "
                            f"left of the wall-time limit (after {attempt} attempt(s))")
        wait = asked if asked is not None else BACKOFF_S * 2.0 ** (attempt - 1)
        time.sleep(max(0.0, min(wait, remaining() - MIN_ATTEMPT_S)))
