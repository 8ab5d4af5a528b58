"""Test doubles shared by the tests (kept out of the installed package)."""

from __future__ import annotations

from typing import Any, Optional

from langchain_core.outputs import ChatResult

from tracr_agent.agent.backends.replay import ReplayChatModel


class ScriptedChatModel(ReplayChatModel):
    """Answers from `responses` in order like a replay, but an exception in the list is raised
    instead of answered, and every message list the model is called with is kept in `seen`."""

    name_: str = "scripted"
    seen: list = []

    def _generate(self, messages, stop: Optional[list] = None, run_manager: Any = None, **kwargs) -> ChatResult:
        self.seen.append(list(messages))
        i = self._index[0]
        if i < len(self.responses) and isinstance(self.responses[i], BaseException):
            self._index[0] = i + 1
            raise self.responses[i]
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
