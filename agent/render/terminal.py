"""The console every command prints through: rich's, with one more guarantee.

Renderers make untrusted text safe where they draw it (tools/untrusted/text.py: `shown`, `markup`),
so a label, a tool result or an exception message is shown, not obeyed. `SafeConsole` holds the
same line for anything that slipped through: each piece of text rich is about to write (not rich's
own styles and cursor moves, which it writes as styles and control segments) has its control,
bidi and zero-width characters shown as `shown` does. A terminal therefore only ever receives the
escape sequences rich itself generates.
"""

from __future__ import annotations

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
