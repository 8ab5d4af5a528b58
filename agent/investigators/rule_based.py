"""The machinery every rule-based investigator shares: a deterministic "chat model" needing no LLM.

It drives the same tools through the same graph as any agent: `bind_tools` records which tools
the condition allows, and each turn `_decide` reads the whole message history (so replay and
resumption work unchanged) and returns the next AIMessage — tool calls, or a submission. It reads
results as `tool_results` gives them (whether each call succeeded, and its payload: tools/protocol/),
and what the loop tells it besides as message marks (agent/loop/marks.py), never as text.
Subclasses (the closed-world baseline.py, the open-world openworld/investigator.py; the decompiler
builds on `DeterministicInvestigator` alone) implement `_decide`; this module knows nothing of any task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tracr_agent.agent.loop.marks import mark_of, marked
from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.protocol.model_info import info_of, parse_model_info
from tracr_agent.tools.protocol.payloads import is_error_text, opened, payload
from tracr_agent.tools.protocol.run_model import observations


@dataclass(frozen=True)
class Result:
    """One answered tool call as a program reads it: the tool, its arguments, whether it succeeded,
    and its structured payload (tools/protocol/payloads.py; None for a tool without one)."""
    name: str
    args: dict
    ok: bool
    data: Any = None


@dataclass
class Turn:
    """What a rule-based investigator knows at one turn, read from the history."""
    number: int
    results: list[Result]
    """Every answered call, in order."""
    forced: bool
    """The last turn of a limit: only submit_prediction is allowed."""
    info: Optional[dict]
    """model_info (or, in black-box, the interface stated in the system prompt)."""
    call: Callable[..., dict]
    """call(name, args, i=0) -> a tool call with an id unique in this turn."""
    phases: list[str] = field(default_factory=list)
    """The phases its own earlier turns marked (`phase_message`), in order."""


def tool_results(messages) -> list[Result]:
    """Every answered call, in order, with whether it succeeded and its payload (the ToolMessage's
    artifact; for a result without one — a checkpoint written before payloads existed — both read
    from its text by the protocol's parsers)."""
    calls = {c["id"]: (c["name"], c["args"]) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    out = []
    for m in messages:
        if isinstance(m, ToolMessage) and m.tool_call_id in calls:
            name, args = calls[m.tool_call_id]
            found = opened(m.artifact)
            if found is None:  # a result without an envelope: read its text with the declared parsers
                text = m.content if isinstance(m.content, str) else str(m.content)
                ok = not is_error_text(text)
                found = ok, payload(name, args, text, not ok)
            out.append(Result(name, args if isinstance(args, dict) else {}, *found))
    return out


def forced_turn(messages) -> bool:
    """Whether the graph has told the investigator to submit now (the last turn of a limit)."""
    return any(isinstance(m, HumanMessage) and mark_of(m).get("forced") for m in messages)


def phases(messages) -> list[str]:
    """The phases the investigator's own turns marked, in order."""
    return [p for m in messages if isinstance(m, AIMessage) and (p := mark_of(m).get("phase"))]


def phase_message(phase: str, content: str, tool_calls: list) -> AIMessage:
    """A turn that marks the phase it starts (read back with `phases`; the text is for people)."""
    return marked(AIMessage(content=content, tool_calls=tool_calls), phase=phase)


def model_info_of(results: list[Result]) -> Optional[dict]:
    """The model_info payload of the history, if it was read."""
    return next((info_of(r.data) for r in results if r.name == "model_info" and r.ok and r.data), None)


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
        info = model_info_of(results)
        if info is None and "model_info" not in self.available:
            # black-box: the interface (vocab, max_seq_len, output kind) the system prompt states
            system = next((m for m in messages if m.type == "system"), None)
            interface = mark_of(system).get("interface") if system is not None else None
            info = {**parse_model_info(""), **interface} if interface else parse_model_info(getattr(system, "content", ""))

        def call(name: str, args: dict, i: int = 0) -> dict:
            return {"id": f"bl_{number}_{i}", "name": name, "args": args}

        return Turn(number, results, forced, info, call, phases(messages))

    @staticmethod
    def static_pairs(messages) -> dict[tuple, list]:
        """The input/output pairs of a static dump's prompt (its mark; none in plain `static`)."""
        return {x: y for m in messages if isinstance(m, HumanMessage)
                for x, y in observations(mark_of(m).get("pairs")).items()}

    # -- a person's question after the prediction (interactive sessions) ------------------------
    @staticmethod
    def answer_question(messages) -> Optional[AIMessage]:
        """A fixed answer once a prediction is recorded and a person asks something: the prediction
        restated with the evidence given when it committed. It uses no tools."""
        if not messages or not isinstance(messages[-1], HumanMessage):
            return None
        calls = {c["id"]: (m, c) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
        answered = [(m, r) for m, r in zip([m for m in messages if isinstance(m, ToolMessage) and m.tool_call_id in calls],
                                           tool_results(messages))]
        found = None
        for m, r in answered:
            if r.name == "submit_prediction" and r.ok:
                found = calls[m.tool_call_id]
        if found is None:
            return None
        ai, call = found
        args = call["args"]
        n_results = sum(r.ok for _, r in answered)
        return AIMessage(content=f"My prediction stands: {args.get('label')} (confidence {args.get('confidence')}). "
                                 f"{args.get('description', '')} Evidence: {str(ai.content).strip()} "
                                 f"({n_results} successful tool results in this session; the baseline answers "
                                 "every question with this summary.)")
