"""decode_residual's format — a header naming the hook, then one line per position (`0 BOS  v1=a v2=3`,
or with raw dims the non-zero ones, `d3=1 d7=0.5`) — and its parser."""

from __future__ import annotations

import re
from typing import Optional

from tracr_agent.tools.protocol.values import parse_value

_HEAD = re.compile(r"^blocks\.(\d+)\.hook_resid_(pre|mid|post)")
_LINE = re.compile(r"^(\d+) +(\S+) +(.*)$")
_PAIR = re.compile(r"(\S+?)=(\S+)")


def fmt_vars(pairs) -> str:
    """`name=value name=value …`."""
    return " ".join(f"{n}={v}" for n, v in pairs)


def decode_lines(hook: str, labels: list[str], rows: list[list[tuple[str, str]]], raw: bool) -> list[str]:
    """The table: `rows[p]` are position p's (name, value text) pairs (raw: its non-zero dims)."""
    width = max(len(label) for label in labels)
    head = (f"{hook}, unlabelled: the non-zero dims per position (all others 0):" if raw
            else f"{hook}, decoded by variable (one line per position):")
    empty = "all 0" if raw else ""
    return [head] + [f"{label.ljust(width)}  {fmt_vars(pairs) or empty}" for label, pairs in zip(labels, rows)]


def parse_decode(text: str) -> Optional[tuple[int, dict[str, list]]]:
    """(layer, {variable: [value at positions 1..n]}) from a decode_residual output, or None."""
    lines = text.splitlines()
    if not lines:
        return None
    m = _HEAD.match(lines[0])
    if not m:
        return None
    rows = []
    for line in lines[1:]:
        lm = _LINE.match(line)
        if lm:
            rows.append((int(lm.group(1)), dict(_PAIR.findall(lm.group(3)))))
    values: dict[str, list] = {}
    for pos, pairs in sorted(rows):
        if pos == 0:
            continue
        for var, val in pairs.items():
            values.setdefault(var, []).append(parse_value(val))
    return int(m.group(1)), values


def payload(text: str) -> Optional[dict]:
    """{"layer": L, "values": {variable: [value at positions 1..n]}}, or None for an unreadable text."""
    parsed = parse_decode(text)
    return None if parsed is None else {"layer": parsed[0], "values": parsed[1]}
