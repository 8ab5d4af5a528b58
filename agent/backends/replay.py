"""A chat model that replays the LLM responses of a transcript.

It plugs into the graph exactly like a real chat model (`bind_tools`,
`invoke`), so a replayed episode runs the same code path as the original.
"""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from tracr_agent.tools.errors import UserError


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

    @classmethod
    def from_transcript(cls, path: str) -> "ReplayChatModel":
        from tracr_agent.agent.episode.transcript import LLMResponse, read_transcript

        events, _ = read_transcript(path, strict=True)
        responses = []
        for ev in events:
            if isinstance(ev, LLMResponse):
                responses.append(AIMessage(
                    content=ev.text,
                    tool_calls=[{"id": c.id, "name": c.name, "args": c.args if isinstance(c.args, dict) else {"__raw__": c.args}}
                                for c in ev.tool_calls],
                    usage_metadata={"input_tokens": ev.usage.input_tokens, "output_tokens": ev.usage.output_tokens,
                                    "total_tokens": ev.usage.input_tokens + ev.usage.output_tokens},
                ))
        if not responses:
            raise UserError(f"{path}: the transcript holds no LLM responses to replay")
        return cls(responses=responses)


def skip_used(backend, values: dict) -> None:
    """A resumed episode on a `replay:FILE` backend: skip the responses its checkpointed history
    (`values`, the graph state) already used, so the next turn gets the next recorded response."""
    index = getattr(backend.chat_model, "_index", None)
    if isinstance(index, list) and values:
        index[0] = sum(isinstance(m, AIMessage) for m in values.get("messages", []))
