"""The structured payload of a tool result: what a program reads instead of the text.

A successful call's payload is its text read by the parser declared next to the tool's format, so
the payload says exactly what the text says; a tool without a declared structured form has none
(None). A refused call's payload says what a program can act on (the cap, for a json reply over it).
`call_tool` attaches it as `ToolResult.data`; the graph hands it on, with whether the call succeeded,
as the ToolMessage `artifact` (`envelope`), which no LLM receives. (Not as the message's `status`:
some providers send that to the model, and what a model receives stays what it was.)
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from tracr_agent.tools.protocol import activations, decode, directions, model_info, run_model
from tracr_agent.tools.protocol.cap import refused_cap


def _activations(args, text: str):
    return activations.payload(text) if isinstance(args, dict) and args.get("format") == "json" else None


PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "run_model": lambda args, text: run_model.payload(text),
    "model_info": lambda args, text: model_info.parse_model_info(text),
    "decode_residual": lambda args, text: decode.payload(text),
    "get_activations": _activations,
    "component_writes": lambda args, text: directions.writes_payload(text),
    "project": lambda args, text: directions.project_payload(text),
    "submit_prediction": lambda args, text: {"recorded": True},
}
"""Tool name -> (arguments, text) -> payload, for the tools whose results programs read."""


ERROR_PREFIX = "error: "
"""How every refused or failed call's text begins (call_tool and the loop write nothing else)."""


def is_error_text(text: str) -> bool:
    return text.startswith(ERROR_PREFIX)


def payload(name: str, args, text: str, is_error: bool = False) -> Optional[Any]:
    """The payload of a result (see the module docstring)."""
    if is_error:
        cap = refused_cap(text)
        return {"refused": "cap", "cap_chars": cap} if cap is not None else None
    parse = PARSERS.get(name) if isinstance(name, str) else None
    try:
        return parse(args, text) if parse else None
    except Exception:  # never let reading a result change what its caller gets: the text stands alone
        return None


def envelope(ok: bool, data) -> dict:
    """What a ToolMessage's artifact holds: whether the call succeeded, and its payload."""
    return {"ok": ok, "data": data}


def opened(artifact) -> Optional[tuple[bool, Any]]:
    """(ok, payload) from an `envelope`, or None for an artifact that is not one."""
    if isinstance(artifact, dict) and set(artifact) == {"ok", "data"}:
        return bool(artifact["ok"]), artifact["data"]
    return None

