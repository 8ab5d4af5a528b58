"""The terminal: the console every command prints through (rich's, with one more guarantee), and the
line a person types.

Renderers make untrusted text safe where they draw it (tools/untrusted/text.py: `shown`, `markup`),
so a label, a tool result or an exception message is shown, not obeyed. `SafeConsole` holds the
same line for anything that slipped through: each piece of text rich is about to write (not rich's
own styles and cursor moves, which it writes as styles and control segments) has its control,
bidi and zero-width characters shown as `shown` does. A terminal therefore only ever receives the
escape sequences rich itself generates.

`text_input` reads a line a person typed (the lab, an interactive session): bytes that are not
UTF-8 are refused with one line and the line asked again, never a crash.
"""

from __future__ import annotations

import io
import sys

from rich.console import Console
from rich.segment import Segment

from tracr_agent.tools.untrusted.text import shown

_KEEP = str.maketrans("", "", "\n\t")


class SafeConsole(Console):
    """A rich Console that never writes a control character it did not generate itself."""

    def _render_buffer(self, buffer) -> str:
        return super()._render_buffer(
            seg if seg.control or not seg.text or seg.text.translate(_KEEP).isprintable()
            else Segment(shown(seg.text), seg.style, seg.control)
            for seg in buffer)


def text_input(prompt: str, console: Console) -> str:
    """input(prompt) for a person: a line holding bytes that are not UTF-8 (a pasted binary, another
    encoding) is refused with one line and asked again, never a crash and never recorded."""
    if isinstance(sys.stdin, io.TextIOWrapper) and sys.stdin.errors != "surrogateescape":
        sys.stdin.reconfigure(errors="surrogateescape")  # undecodable bytes arrive as U+DC80..U+DCFF
    while True:
        line = input(prompt)
        bad = next((i for i, ch in enumerate(line) if "\udc80" <= ch <= "\udcff"), None)
        if bad is None:
            return line
        console.print(f"that line is not UTF-8 text (byte 0x{ord(line[bad]) - 0xDC00:02x} at column {bad + 1}); "
                      "ignored — type it again", style="red", highlight=False, markup=False)
