"""The machinery every rule-based investigator shares: a deterministic "chat model" needing no LLM.

It drives the same tools through the same graph as any agent: `bind_tools` records which tools
the condition allows, and each turn `_decide` reads the whole message history (so replay and
resumption work unchanged) and returns the next AIMessage — tool calls, or a submission.
Subclasses (the closed-world baseline.py, the open-world openworld/investigator.py; the decompiler
builds on `DeterministicInvestigator` alone) implement `_decide`; this module knows nothing of any task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Optional

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tracr_agent.agent.investigators.parsing import parse_model_info, parse_run_model
from tracr_agent.agent.loop.prompts import FORCE
from tracr_agent.agent.records.limits import Limits


@dataclass
class Turn:
    """What a rule-based investigator knows at one turn, read from the history."""
    number: int
    results: list[tuple[str, dict, str]]
    """(tool name, arguments, result text) of every answered call, in order."""
    forced: bool
    """The last turn of a limit: only submit_prediction is allowed."""
    info: Optional[dict]
    """model_info (or, in black-box, the interface stated in the system prompt)."""
    call: Callable[..., dict]
    """call(name, args, i=0) -> a tool call with an id unique in this turn."""
    said: list[str] = field(default_factory=list)
    """The text of the investigator's own earlier turns (where it marks the phases it went through)."""


def tool_results(messages) -> list[tuple[str, dict, str]]:
    """(tool name, arguments, result text) of every answered call, in order."""
    calls = {c["id"]: (c["name"], c["args"]) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    return [(*calls[m.tool_call_id], m.content if isinstance(m.content, str) else str(m.content))
            for m in messages if isinstance(m, ToolMessage) and m.tool_call_id in calls]


def forced_turn(messages) -> bool:
    """Whether the graph has told the investigator to submit now (the last turn of a limit)."""
    return any(isinstance(m, HumanMessage) and m.content.startswith(FORCE.split("{")[0]) for m in messages)


class DeterministicInvestigator(BaseChatModel):
    """A chat model that is a program: `bind_tools` records which tools the condition allows and
    every turn is `_decide(history)`. The rule-based baselines and the decompiler build on it."""
    available: list = []
    limits: Limits = Limits()
    """The episode's limits (Backend.with_limits): reads are planned to leave room for the submission."""

    def bind_tools(self, tools, **kwargs):
        names = [getattr(t, "name", None) or t.get("name") for t in tools]
        return self.model_copy(update={"available": names})

    def with_limits(self, limits: Limits) -> "DeterministicInvestigator":
        return self.model_copy(update={"limits": limits})

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(list(messages)))])

    def _reply(self, messages) -> AIMessage:
        return self._decide(messages)

    def _decide(self, messages) -> AIMessage:  # pragma: no cover - every subclass implements it
        raise NotImplementedError


class RuleInvestigator(DeterministicInvestigator):
    seed: int = 0
    without_pairs: ClassVar[str] = "it needs observed outputs"
    """What the investigator does with input/output pairs, said when a static dump holds none."""

    @property
    def _llm_type(self) -> str:
        return "baseline"

    def _decide(self, messages) -> AIMessage:
        """Without tools: the answer to a static dump. With tools: model_info first, then `_investigate`."""
        if not self.available:
            obs = self.static_pairs(messages)
            if not obs:
                return AIMessage(content="The dump holds attention patterns and embeddings but no input/output pairs; "
                                         f"{self.without_pairs}.\nPREDICTION: unknown")
            return self._static_answer(obs, any(isinstance(v, float) for y in obs.values() for v in y))
        t = self.turn(messages)
        if t.info is None and not t.forced and "model_info" in self.available:
            return AIMessage(content="First, the architecture and vocabulary.", tool_calls=[t.call("model_info", {})])
        return self._investigate(t, t.info or {"vocab": [], "max_seq_len": 1, "numerical": False})

    def _static_answer(self, obs: dict, numerical: bool) -> AIMessage:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _investigate(self, t: Turn, info: dict) -> AIMessage:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _reply(self, messages) -> AIMessage:
        msg = self.answer_question(messages)
        return self._decide(messages) if msg is None else msg

    def turn(self, messages) -> Turn:
        number = sum(isinstance(m, AIMessage) for m in messages) + 1
        results = tool_results(messages)
        forced = forced_turn(messages)
        info = next((parse_model_info(t) for n, _, t in results if n == "model_info" and not t.startswith("error")), None)
        if info is None and "model_info" not in self.available:
            # black-box: the interface (vocab, max_seq_len, output kind) is stated in the system prompt
            system = next((m.content for m in messages if m.type == "system"), "")
            info = parse_model_info(system)

        def call(name: str, args: dict, i: int = 0) -> dict:
            return {"id": f"bl_{number}_{i}", "name": name, "args": args}

        said = [str(m.content) for m in messages if isinstance(m, AIMessage)]
        return Turn(number, results, forced, info, call, said)

    @staticmethod
    def static_pairs(messages) -> dict[tuple, list]:
        """The input/output pairs in a static dump's prompt (none in plain `static`)."""
        prompt = "\n".join(m.content for m in messages if isinstance(m, HumanMessage) and isinstance(m.content, str))
        return parse_run_model(prompt)

    # -- a person's question after the prediction (interactive sessions) ------------------------
    @staticmethod
    def answer_question(messages) -> Optional[AIMessage]:
        """A fixed answer once a prediction is recorded and a person asks something: the prediction
        restated with the evidence given when it committed. It uses no tools."""
        if not messages or not isinstance(messages[-1], HumanMessage):
            return None
        calls = {c["id"]: (m, c) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
        found = None
        for m in messages:
            if (isinstance(m, ToolMessage) and m.tool_call_id in calls and calls[m.tool_call_id][1]["name"] == "submit_prediction"
                    and str(m.content).startswith("prediction recorded")):
                found = calls[m.tool_call_id]
        if found is None:
            return None
        ai, call = found
        args = call["args"]
        n_results = sum(isinstance(m, ToolMessage) and not str(m.content).startswith("error") for m in messages)
        return AIMessage(content=f"My prediction stands: {args.get('label')} (confidence {args.get('confidence')}). "
                                 f"{args.get('description', '')} Evidence: {str(ai.content).strip()} "
                                 f"({n_results} successful tool results in this session; the baseline answers "
                                 "every question with this summary.)")
