"""Trimming old tool outputs from what is sent to the LLM (`--trim-tool-outputs N`).

The whole history is resent on every turn, so an episode's input grows with the square of its
length. With trimming on, tool outputs older than the last ones are sent as a one-line stub naming
the tool and the size of what was left out (the model can call the tool again to see it); the
transcript keeps every output whole, and nothing changes in the state the graph keeps.

Outputs are trimmed in blocks of N: the last N to 2N-1 outputs go in full, and the stubbed prefix
changes only once every N outputs, so a provider's prompt cache keeps hitting between the changes.
"""

from __future__ import annotations

from langchain_core.messages import ToolMessage

STUB = "[output of {name} left out to save context ({chars} characters); call the tool again to see it]"


def trimmed(messages: list, keep: int) -> list:
    """`messages` as sent with `--trim-tool-outputs keep` (see the module docstring)."""
    tools = [i for i, m in enumerate(messages) if isinstance(m, ToolMessage)]
    n_old = (len(tools) - keep) // keep * keep if len(tools) >= 2 * keep else 0
    old = set(tools[:n_old])
    out = []
    for i, m in enumerate(messages):
        text = m.content if isinstance(m.content, str) else str(m.content)
        stub = STUB.format(name=m.name or "a tool", chars=len(text)) if i in old else None
        out.append(m.model_copy(update={"content": stub}) if stub and len(stub) < len(text) else m)
    return out
