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
3. `json.loads`, with ints of more digits than a real reply can hold refused (int() of a long
   digit string is quadratic; the interpreter's own digit limit refuses them unless lifted, and
   then a length check does); float() is linear in its text;
4. the shape and every value are checked; a non-finite float from f (NaN, Infinity: legal
   tokens, since the worker's json.dumps writes them) fails that input, like an exception.

`benchmarks/verdict_parse.py` times adversarial replies of every class at the cap.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Optional, Sequence

from tracr_agent.tools.untrusted.text import shown

MAX_RESULT_BYTES = 8 * 1024 * 1024
# Most values (tokens, plus one per input) one run may answer: bounds the work of parsing any reply
# (json.loads builds at most about this many objects); a scoring domain (at most 5,000 inputs of at
# most 8 tokens) needs a fifth of it.
MAX_VALUES = 200_000
MAX_DEPTH = 3  # {"outputs": [[scalar, ...], ...]}
# Longest int literal a real reply holds: the worker cannot print an int of more digits than
# Python's default limit (4300).
MAX_NUMBER_CHARS = 4400
# Keys, brackets and separators of the fixed part of a reply, beyond one list and one value per token.
_SLACK = 16
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def input_values(inputs: Sequence[Sequence]) -> int:
    """The values a reply for `inputs` holds: one per token, and one per input (its list or null)."""
    return sum(len(x) for x in inputs) + len(inputs)


def _budget(inputs: Sequence[Sequence]) -> tuple[int, int]:
    """(most lists, most values) a well-formed reply for `inputs` can hold: one more value per
    input for the failed-list, and the fixed keys; never more than MAX_VALUES allows."""
    lists = min(len(inputs), MAX_VALUES) + _SLACK
    return lists, min(input_values(inputs), MAX_VALUES) + lists + _SLACK


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
    # One object with three keys: every other bracket opens a list.
    if outside.count(b"{") > 1 or outside.count(b":") > 3:
        return "result has the wrong shape"
    brackets = outside.translate(None, _NOT_BRACKETS)
    if len(brackets) > 2 * lists:
        return f"result holds more lists than {len(inputs)} inputs allow"
    if outside.count(b",") > values:
        return f"result holds more values than {len(inputs)} inputs allow"
    depth = 0
    for c in brackets:  # at most 2 * lists bytes
        depth += 1 if c in b"[{" else -1
        if depth > MAX_DEPTH:
            return "result nested too deeply"
    return None


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"result holds a number of {len(text)} digits")
    return int(text)


def _int_parser() -> dict:
    """json.loads options that keep int parsing linear: none where the interpreter refuses long
    digit strings itself (its default), a length check where that limit is lifted or raised."""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    return {} if 0 < limit <= MAX_NUMBER_CHARS else {"parse_int": _int}


def _decode(data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"result is not UTF-8 (invalid byte at offset {e.start})") from None
    try:
        return json.loads(text, **_int_parser())
    except RecursionError:
        raise ValueError("result nested too deeply") from None
    except ValueError as e:
        message = str(e)
        if message.startswith("result "):
            raise ValueError(message) from None
        if "integer string conversion" in message:
            raise ValueError("result holds a number of more digits than Python prints") from None
        raise ValueError(f"result is not valid JSON ({message[:80]})") from None


def visible(text: str) -> str:
    """`text` on one line with every non-printable character shown, not obeyed (tools/untrusted/text.py):
    the sandbox's error lines carry the submission's own text."""
    return shown(text, one_line=True)


_SCALARS = frozenset({type(None), bool, int, float, str})


def _bad_scalar(values: list) -> Optional[str]:
    """What in `values` is not a finite plain JSON scalar, or None (one C-level pass for the types)."""
    kinds = set(map(type, values))
    if not kinds <= _SCALARS:
        return f"a {next(k for k in map(type, values) if k not in _SCALARS).__name__}"
    if float in kinds:
        bad = next((v for v in values if type(v) is float and not math.isfinite(v)), None)
        if bad is not None:
            return f"a non-finite number ({bad})"
    return None


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
    error = None if error is None else visible(error[:2000])[:300]
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
        bad = _bad_scalar(out)
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
