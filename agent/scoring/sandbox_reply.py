"""Validating the sandbox worker's reply: untrusted bytes -> outputs, in time linear in their length.

The reply channel carries whatever the submitted code chose to write there (it can reach the
worker's descriptors), up to `MAX_RESULT_BYTES`. `parse_reply` accepts only the worker's shape

    {"outputs": [[scalar, ...], ...] | null, "failed": [i, ...], "error": "..." | null}

and turns everything else into a ValueError with a one-line reason. Every step is a C-level
bytes operation or a loop over a part whose size the inputs bound, never a backtracking regex:

1. the bytes must be UTF-8;
2. a structural pre-scan: escaped characters are dropped (`\\\\` then `\\"`), so the remaining
   quotes alternate opening and closing strings; the text outside strings is split out, and its
   brackets, commas and the number of strings are counted against budgets the inputs set (one
   list per input, one value per token) before the nesting depth is checked on the few brackets
   that remain;
3. `json.loads`, with numbers of more digits than a real reply can hold refused as they are met
   (int() of a long digit string is quadratic where the interpreter's digit limit is lifted);
4. the shape and every value are checked; a non-finite float from f (NaN, Infinity: legal
   tokens, since the worker's json.dumps writes them) fails that input, like an exception.

`benchmarks/verdict_parse.py` times adversarial replies of every class at the cap.
"""

from __future__ import annotations

import json
import math
from typing import Optional, Sequence

MAX_RESULT_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 3  # {"outputs": [[scalar, ...], ...]}
# Longest number literal a real reply holds: the worker cannot print an int of more digits than
# Python's default limit (4300), and repr(float) is at most 24 characters.
MAX_NUMBER_CHARS = 4400
# Keys, brackets and separators of the fixed part of a reply, beyond one list and one value per token.
_SLACK = 16
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _budget(inputs: Sequence[Sequence]) -> tuple[int, int]:
    """(most lists, most values) a well-formed reply for `inputs` can hold."""
    return len(inputs) + _SLACK, sum(len(x) for x in inputs) + 2 * len(inputs) + _SLACK


def structure_problem(data: bytes, inputs: Sequence[Sequence]) -> Optional[str]:
    """Why `data` cannot be a reply for `inputs` by its structure alone, or None (a linear scan)."""
    lists, values = _budget(inputs)
    # Escape pairs go left to right, double backslashes first, so a run of backslashes is consumed in
    # pairs as a JSON parser reads it; the quotes left then alternate opening and closing strings.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    quotes = plain.count(b'"')
    if quotes % 2:
        return "result is not valid JSON (an unterminated string)"
    if quotes > 2 * values:
        return f"result holds more strings than {len(inputs)} inputs allow"
    outside = b"".join(plain.split(b'"')[0::2])
    brackets = outside.translate(None, _NOT_BRACKETS)
    if len(brackets) > 2 * lists:
        return f"result holds more lists than {len(inputs)} inputs allow"
    if outside.count(b",") + outside.count(b":") > values:
        return f"result holds more values than {len(inputs)} inputs allow"
    depth = 0
    for c in brackets:  # at most 2 * lists bytes
        depth += 1 if c in b"[{" else -1
        if depth > MAX_DEPTH:
            return "result nested too deeply"
    return None


def _number(text: str, kind):
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"result holds a number of {len(text)} characters")
    return kind(text)


def _decode(data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"result is not UTF-8 (invalid byte at offset {e.start})") from None
    try:
        return json.loads(text, parse_int=lambda s: _number(s, int), parse_float=lambda s: _number(s, float))
    except RecursionError:
        raise ValueError("result nested too deeply") from None
    except ValueError as e:
        message = str(e)
        if message.startswith("result "):
            raise ValueError(message) from None
        raise ValueError(f"result is not valid JSON ({message[:80]})") from None


def _bad_scalar(v) -> Optional[str]:
    if v is None or type(v) in (bool, int, str):
        return None
    if type(v) is float:
        return None if math.isfinite(v) else f"a non-finite number ({v})"
    return f"a {type(v).__name__}"


def parse_reply(data: bytes, inputs: Sequence[Sequence]):
    """The worker's reply -> (outputs, error, failed), or raises ValueError with a one-line reason."""
    if not data.strip():
        raise ValueError("no result")
    if len(data) > MAX_RESULT_BYTES:
        raise ValueError(f"result exceeds {MAX_RESULT_BYTES // 1024} KB")
    problem = structure_problem(data, inputs)
    if problem:
        raise ValueError(problem)
    reply = _decode(data)
    if not isinstance(reply, dict) or set(reply) != {"outputs", "failed", "error"}:
        raise ValueError("result has the wrong shape")
    outputs, failed, error = reply["outputs"], reply["failed"], reply["error"]
    if error is not None and not isinstance(error, str):
        raise ValueError("result error is not a string")
    error = None if error is None else " ".join(error.split())[:300]
    if not isinstance(failed, list) or not all(type(i) is int and 0 <= i < len(inputs) for i in failed) \
            or len(set(failed)) != len(failed):
        raise ValueError("result failed-list is not a list of input indices")
    if failed and error is None:
        raise ValueError("result lists failed inputs without a reason")  # the worker always names one
    if outputs is None:
        if error is None:
            raise ValueError("result has neither outputs nor an error")
        return None, error, []
    if not isinstance(outputs, list) or len(outputs) != len(inputs):
        raise ValueError(f"result does not hold exactly one output per input ({len(inputs)})")
    failed_set, extra = set(failed), None
    for i, (x, out) in enumerate(zip(inputs, outputs)):
        if i in failed_set:
            if out is not None:
                raise ValueError("result has an output for a failed input")
            continue
        if not isinstance(out, list) or len(out) != len(x):
            raise ValueError(f"result output {i} is not a list of length {len(x)}")
        bad = next((b for b in map(_bad_scalar, out) if b), None)
        if bad and not bad.startswith("a non-finite"):
            # The worker only ever sends plain scalars: anything else is not its reply.
            raise ValueError(f"result output {i} holds {bad}")
        if bad:
            # A wrong value from f, not a broken channel: that input fails, like an exception.
            outputs[i] = None
            failed.append(i)
            extra = extra or f"f returned {bad} on input {list(x)!r}"
    if extra:
        failed.sort()
        error = error or extra
    return outputs, error, failed
