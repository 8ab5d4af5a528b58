"""JSON from files anyone could have written (transcripts, results.jsonl, model cards, session rows),
read with its nesting bounded.

`json.loads` recurses once per bracket: 60,000 nested brackets raise RecursionError, and a few
hundred pass but break whatever walks the value next (pydantic's serializer, the renderers).
`loads` counts the nesting first, in one linear pass over the text with its strings taken out,
and refuses anything deeper than MAX_DEPTH with a ValueError — the same class `json.loads` raises
for a syntax error, so every caller's one-line message covers both.
"""

from __future__ import annotations

import json
import re
from typing import Any, Union

MAX_DEPTH = 128
"""Deepest nesting of arrays and objects read from a file (a transcript event needs about 8)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def depth(text: Union[str, bytes]) -> int:
    """The deepest nesting of brackets outside strings, counted in linear time."""
    blob = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if b"[" not in blob and b"{" not in blob:
        return 0
    level = deepest = 0
    for b in _BRACKET.findall(_STRING.sub(b"", blob)):
        if b in b"[{":
            level += 1
            if level > deepest:
                deepest = level
        else:
            level -= 1
    return deepest


def loads(text: Union[str, bytes], max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(text)`, refusing nesting deeper than `max_depth` (TooDeep, a ValueError)."""
    if depth(text) > max_depth:
        raise TooDeep(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:  # not reached after the count; kept so no caller ever sees one
        raise TooDeep(f"nested deeper than {max_depth} levels") from None
