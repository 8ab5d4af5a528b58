"""The tool-output cap, its arithmetic in one place: the one default every caller shares (tool suite,
CLI options, lab, interactive sessions, transcript header), tokens to characters, cutting a text
output to the cap, and the refusal a machine-readable reply gets instead of a cut. Import-free on
purpose so the CLI can use it in option defaults without slowing `tracr-agent --help`."""

from __future__ import annotations

import re
from typing import Optional

DEFAULT_CAP_TOKENS = 1500
CHARS_PER_TOKEN = 4
_REFUSAL = re.compile(r"over the output cap \(~(\d+)\)")


def cap_chars(cap_tokens: int) -> int:
    """The cap in characters (≈ CHARS_PER_TOKEN per token)."""
    return cap_tokens * CHARS_PER_TOKEN


def cap_text(text: str, cap_tokens: int) -> tuple[str, bool]:
    """(text cut to the cap at a line boundary with a note saying how to ask for less, whether it was cut)."""
    limit = cap_chars(cap_tokens)
    if len(text) <= limit:
        return text, False
    lines = text.split("\n")
    kept, size = [], 0
    for line in lines:
        if size + len(line) + 1 > limit - 200:
            break
        kept.append(line)
        size += len(line) + 1
    cut = len(lines) - len(kept)
    kept.append(f"[output cut: {cut} more lines (limit ~{cap_tokens} tokens); ask for fewer inputs, "
                "positions or heads, or a single layer]")
    return "\n".join(kept), True


def over_cap(size: int, cap_tokens: int) -> str:
    """The refusal of a machine-readable reply that would not fit (a cut JSON text could not be parsed)."""
    return (f"the json reply would be {size} characters, over the output cap (~{cap_chars(cap_tokens)}): "
            "ask for fewer inputs or hooks per call")


def refused_cap(text: str) -> Optional[int]:
    """The cap (characters) an `over_cap` refusal names, or None for any other text."""
    m = _REFUSAL.search(text)
    return int(m.group(1)) if m else None
