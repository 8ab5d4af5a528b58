"""Untrusted text made safe to show, and names refused when they hide characters.

Text from a submission, a model, a model directory, a transcript or a server may hold terminal
escape sequences (a fake line, a new window title), rich markup (`[/]` ends a style that was never
opened: rich raises), bidi overrides that reorder what is read, or zero-width characters that make
two names look alike. Every renderer passes such text through `shown` (plain text), `markup` (text
inside rich markup) or `html_text` (HTML and Markdown); names a user types (subject ids, `--llm`
specs, session ids) go through `check_name`, which refuses them with one line.

What `shown` does to each character:

- printable characters, spaces, `\\n` and `\\t` (unless `one_line`): kept;
- other C0 controls (ESC, CR, BEL, …): their Unicode pictures (`␛`, `␍`, `␇`), DEL as `␡`;
- C1 controls: `\\x9b`;
- everything else that is not printable (bidi controls, zero-width characters, other format
  characters, lone surrogates, unassigned code points): `\\u202e`, `\\U000e0001`.
"""

from __future__ import annotations

import html
from typing import Any

from tracr_agent.tools.errors import UserError

_FAST_OK = str.maketrans("", "", "\n\t")


def _char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # the control's picture: ␛ for ESC, ␍ for CR
    if code == 0x7F:
        return "\u2421"  # ␡
    if code < 0xA0:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(text: Any, one_line: bool = False) -> str:
    """`text` (any value: str() of it) with every character that could act on a terminal or hide
    itself shown instead (see the module docstring). `one_line`: newlines and tabs become spaces
    first, runs of whitespace one space."""
    text = text if isinstance(text, str) else str(text)
    if one_line:
        text = " ".join(text.split())
        if text.isprintable():
            return text
    elif text.translate(_FAST_OK).isprintable():
        return text
    keep = "" if one_line else "\n\t"
    return "".join(ch if ch.isprintable() or ch == " " or ch in keep else _char(ch) for ch in text)


def markup(text: Any, one_line: bool = False) -> str:
    """`shown(text)` escaped for rich markup: safe inside `console.print(f"[bold]{markup(x)}[/]")`."""
    from rich.markup import escape

    return escape(shown(text, one_line))


def html_text(text: Any, one_line: bool = False, quote: bool = True) -> str:
    """`shown(text)` escaped for HTML: safe in an element and in a quoted attribute. Markdown, which
    passes HTML through, takes it with `quote=False` (its quotes stay readable)."""
    return html.escape(shown(text, one_line), quote=quote)


MAX_DATA_DEPTH = 256


def shown_data(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with every string in it `shown` (dict keys too): a transcript event, a
    record, a payload, whatever is about to be drawn. Pydantic models keep their class (copied
    without validation); nesting beyond MAX_DATA_DEPTH becomes "…"."""
    if isinstance(value, str):
        return shown(value)
    if _depth > MAX_DATA_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {shown_data(k, _depth + 1): shown_data(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [shown_data(v, _depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    fields = getattr(type(value), "model_fields", None)
    if fields is not None and hasattr(value, "model_copy"):
        return value.model_copy(update={k: shown_data(getattr(value, k), _depth + 1) for k in fields})
    return value


def hidden_character(text: str) -> str | None:
    """The first character of `text` that is invisible or acts on a terminal (a control, a bidi or
    format character, a line separator, a surrogate; any whitespace but the ASCII space), shown as
    an escape, or None."""
    if text.isprintable():
        return None
    for ch in text:
        if not ch.isprintable():
            return _char(ch)
    return None


def check_name(text: str, what: str, error: type = UserError) -> str:
    """`text` when it holds no hidden character; otherwise one `error` line (a UserError) saying which:
    a name that looks like `reverse` must be `reverse` (a bidi override or a zero-width space would make
    a different text read the same)."""
    bad = hidden_character(text)
    if bad is not None:
        raise error(f"{what}: '{shown(text)}' holds an invisible or control character ({bad}); "
                        "type the name plainly")
    return text
