"""A chat model that replays the LLM responses of a transcript (read by investigators/registry.py).

It plugs into the graph exactly like a real chat model (`bind_tools`,
`invoke`), so a replayed episode runs the same code path as the original.
"""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr



class ReplayChatModel(BaseChatModel):
    """Returns the given AIMessages (or plain strings) one per call, in order."""

    responses: list
    name_: str = "replay"
    _index: list = PrivateAttr(default_factory=lambda: [0])

    @property
    def _llm_type(self) -> str:
        return self.name_

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop: Optional[list] = None, run_manager: Any = None, **kwargs) -> ChatResult:
        i = self._index[0]
        if i >= len(self.responses):
            raise RuntimeError(f"{self.name_}: no response left (the script has {len(self.responses)})")
        self._index[0] = i + 1
        msg = self.responses[i]
        if isinstance(msg, str):
            msg = AIMessage(content=msg)
        return ChatResult(generations=[ChatGeneration(message=msg)])


def skip_used(backend, values: dict) -> None:
    """A resumed episode on a `replay:FILE` backend: skip the responses its checkpointed history
    (`values`, the graph state) already used, so the next turn gets the next recorded response."""
    index = getattr(backend.chat_model, "_index", None)
    if isinstance(index, list) and values:
        index[0] = sum(isinstance(m, AIMessage) for m in values.get("messages", []))
