"""Reading tool outputs back into values: what the rule-based investigators (no LLM) see.

Parses the text the tools print — `run_model` lines (`[..] -> [..]`), `model_info`, and
`decode_residual` tables — into Python values. Shared by the closed-world baseline
(baseline.py, whitebox_reader.py) and the open-world one (openworld/); knows nothing of any task.
"""

from __future__ import annotations

import json
import re
from typing import Optional

_ITEM = re.compile(r'"(?:[^"\\]|\\.)*"|[^,\s\[\]]+')
_LINE = re.compile(r"^(\d+) +(\S+) +(.*)$")
_PAIR = re.compile(r"(\S+?)=(\S+)")
_HEAD = re.compile(r"^blocks\.(\d+)\.hook_resid_(pre|mid|post)")


def parse_item(s: str):
    if s == "-":
        return None
    if s.startswith('"'):
        return json.loads(s)
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        return float(s)


def parse_seq(text: str) -> list:
    return [parse_item(x) for x in _ITEM.findall(text.strip())]


def parse_run_model(text: str) -> dict[tuple, list]:
    obs = {}
    for line in text.splitlines():
        if " -> " not in line or not line.startswith("["):
            continue
        left, right = line.split(" -> ", 1)
        obs[tuple(parse_seq(left))] = parse_seq(right)
    return obs


def parse_model_info(text: str) -> dict:
    info: dict = {}
    m = re.search(r"input vocab: (\[.*?\])\s+max_seq_len: (\d+)", text)
    if m:
        info["vocab"] = parse_seq(m.group(1))
        info["max_seq_len"] = int(m.group(2))
    info["numerical"] = bool(re.search(r"output: numerical", text))
    m = re.search(r"layers: (\d+)", text)
    info["n_layers"] = int(m.group(1)) if m else 1
    m = re.search(r"non-empty attention heads: (.*)", text)
    info["heads"] = re.findall(r"(\d+)\.(\d+)", m.group(1)) if m else []
    return info


def parse_value(s: str):
    if s == "-":
        return None
    if s in ("True", "False"):
        return s == "True"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def parse_decode(text: str) -> Optional[tuple[int, dict[str, list]]]:
    """(layer, {variable: [value at positions 1..n]}) from a decode_residual output."""
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


INPUT_VARS = ("tokens", "indices", "one")


def write_order(decodes: list[tuple[tuple, int, dict]]) -> tuple[dict[str, int], list[str]]:
    """From decode_residual readings (input, layer, values): the layer where each variable is first
    written, and the non-input variables latest-written first (candidates for the output)."""
    first_written: dict[str, int] = {}
    for _, layer, vals in sorted(decodes, key=lambda d: d[1]):
        for var, seq in vals.items():
            if var not in first_written and any(v is not None for v in seq):
                first_written[var] = layer
    candidates = [v for v in first_written if v.split(":")[0] not in INPUT_VARS and not v.endswith(".sw")]
    candidates.sort(key=lambda v: (-first_written[v], v))
    return first_written, candidates
