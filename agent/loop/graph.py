"""The investigation loop as a LangGraph StateGraph.

    agent ──tool calls──▶ tools ──▶ agent …        until submit_prediction
      │                     │
      └─no call─▶ nudge     └─limit─▶ force ──▶ agent (only submit_prediction allowed)

The agent node calls the chat model with the condition's tools bound; the
tools node runs each call against the held subject through `call_tool` (so a
bad call becomes an error message the model sees, never an exception). On a
limit the agent gets one last turn in which only submit_prediction is
allowed; if it still does not commit the episode ends as "no prediction".
Every step is reported to a `Recorder` (transcript + live view).

Interactive graphs (`interactive=True`, needs a checkpointer) add two nodes
that pause the graph with LangGraph's `interrupt()`:

    agent ──calls──▶ review ──▶ tools ──▶ agent …
                       │ interrupt per call: {"action": approve|edit|deny, "args", "reason", "hints"}
    tools ──prediction──▶ ask ──question──▶ agent ──answer──▶ ask … ──"" ──▶ END
                           │ interrupt: the person's question ("" ends)

The review node is pure (it may re-execute when resumed): an edit rewrites
the AIMessage's tool call in place, a denial and hints are handed to the tools
node through the state. The person's side (prompting, HumanEvents) lives in
agent/interactive/session.py, which resumes the graph with `Command(resume=...)`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Callable, Optional, TypedDict

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt

from tracr_agent.agent.backends.tool_args import NOT_AN_OBJECT
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.limits import LIMIT_NAMES, Limits
from tracr_agent.agent.records.recorder import Recorder
from tracr_agent.agent.loop.llm_turn import llm_turn
from tracr_agent.agent.loop.marks import marked
from tracr_agent.agent.loop.prompts import FORCE, NUDGE, OPENING, budget_left, closed_set_labels, system_prompt
from tracr_agent.agent.loop.trim import trimmed
from tracr_agent.agent.records.config import EpisodeConfig
from tracr_agent.tools.protocol.cap import CHARS_PER_TOKEN
from tracr_agent.tools.protocol.payloads import envelope, payload
from tracr_agent.tools.suite.base import ToolContext, call_tool
from tracr_agent.tools.suite.langchain import langchain_tools

MAX_NUDGES = 2
LLM_GRACE_SECONDS = 5.0
"""How far past --max-seconds an LLM request may run (the forced last turn starts at the limit)."""


# The counters' channels come from their one declaration (transcript.Counters).
_CounterChannels = TypedDict("_CounterChannels", {k: f.annotation for k, f in tr.Counters.model_fields.items()},
                             total=False)


class EpisodeState(_CounterChannels, total=False):
    messages: Annotated[list, add_messages]
    forced: bool
    limit: str
    """The limit that was reached (its name as the forced turn's notice gives it)."""
    context: int
    """The next request's estimated size (tokens): the last request's input and output, and what was
    added since (CHARS_PER_TOKEN characters a token)."""
    model: str
    """The model snapshot the provider last reported."""
    nudges: int
    prediction: Optional[dict]
    status: str
    error: str
    sent: int
    """How many messages earlier LLMRequest events already recorded (kept in the state so a resumed
    session records only the new ones)."""
    denials: dict
    """Interactive: call id -> the person's reason for denying it (review node -> tools node)."""
    hints: list
    """Interactive: hints typed at the review prompt; they join the conversation after the tool results."""
    asking: bool
    """Interactive: the person is asking questions after the prediction."""
    questions: int
    ended_by: str
    agent_s: float
    """Wall time (s) the episode has used so far, as the limit counts it (checkpointed: a resumed
    session's clock continues from here)."""


def exceeded(state: EpisodeState, limits: Limits, elapsed: float,
             skip: tuple[str, ...] = ()) -> Optional[tuple[str, float]]:
    """The first limit reached, as (name, limit), or None."""
    checks = ((LIMIT_NAMES["max_tool_calls"], state.get("tool_calls", 0), limits.max_tool_calls),
              (LIMIT_NAMES["max_llm_turns"], state.get("llm_turns", 0), limits.max_llm_turns),
              (LIMIT_NAMES["max_context_tokens"], state.get("context", 0), limits.max_context_tokens),
              (LIMIT_NAMES["max_tokens"], state.get("tokens", 0), limits.max_tokens),
              (LIMIT_NAMES["max_seconds"], elapsed, limits.max_seconds),
              (LIMIT_NAMES["max_cost"], state.get("cost", 0.0), limits.max_cost))
    for name, value, limit in checks:
        if name not in skip and limit is not None and value >= limit:
            return name, float(limit)
    return None


HINT = "Hint from the user: {text}"


def recursion_limit(limits: Limits) -> int:
    """LangGraph's step bound for an episode: room for every turn and call the limits allow."""
    return 4 * (limits.max_llm_turns + limits.max_tool_calls) + 20


def question_blocked(state: EpisodeState, limits: Limits, elapsed: float) -> Optional[str]:
    """After the prediction: the limit (other than tool calls) that stops further answers, if any."""
    hit = exceeded(state, limits, elapsed, skip=(LIMIT_NAMES["max_tool_calls"],))
    return hit[0] if hit else None


def build_graph(subject, backend, ctx: ToolContext, limits: Limits, recorder: Recorder,
                checkpointer=None, review: Optional[Callable] = None, interactive: bool = False,
                clock: Callable[[], float] = time.monotonic, elapsed_before: float = 0.0,
                answered: Optional[dict] = None, trim: Optional[int] = None):
    """`review(calls, state) -> calls`, if given, lets a caller approve/edit/deny calls before they run.

    `interactive=True` adds the review and ask nodes, which pause the graph with `interrupt()`
    (see the module docstring); it needs a checkpointer. `clock` measures the wall-time limit
    (an interactive session passes one that leaves out the time spent waiting for the person).
    `answered` (call id -> ToolResultEvent): calls of a step that was cut short after its checkpoint
    whose results the transcript already holds; a resumed episode reuses them once instead of
    running and recording them again (see episode/drive.py cut_short_results). `trim`: send only the
    last tool outputs in full (agent/loop/trim.py); the state and the transcript keep them whole."""
    if interactive and checkpointer is None:
        raise ValueError("an interactive graph needs a checkpointer (interrupt() resumes from it)")
    all_tools = langchain_tools(subject, ctx)
    submit_only = [t for t in all_tools if t.name == "submit_prediction"]
    model_all = backend.chat_model.bind_tools(all_tools, **backend.bind_kwargs)
    model_submit = backend.chat_model.bind_tools(submit_only, **backend.forced_bind_kwargs)
    unchecked_ctx = dataclasses.replace(ctx, check_submission=False)  # the forced turn has none left to fix f
    t_start = clock()

    def elapsed() -> float:
        # the wall time this episode has used, across resumptions: a resumed session passes the
        # `agent_s` its checkpoint holds as elapsed_before, so the clock goes on instead of restarting
        return elapsed_before + clock() - t_start

    def agent_node(state: EpisodeState) -> dict:
        msgs = state["messages"]
        step = state.get("llm_turns", 0) + 1
        model = model_submit if state.get("forced") and not state.get("asking") else model_all
        turn = llm_turn(backend, model, msgs, msgs[state.get("sent", 0):], step, recorder,
                        lambda: limits.max_seconds + LLM_GRACE_SECONDS - elapsed(),
                        sent=trimmed(msgs, trim) if trim else None)
        if turn.error:
            return {"status": "error", "error": turn.error, "agent_s": elapsed()}
        update = {"messages": [turn.ai], "llm_turns": step, "tokens": state.get("tokens", 0) + turn.tokens,
                  "cost": state.get("cost", 0.0) + (turn.cost or 0.0), "sent": len(msgs) + 1, "agent_s": elapsed(),
                  "context": turn.context}
        if turn.cost is None:
            update["cost_unknown"] = True
        if turn.model:
            update["model"] = turn.model
        return update

    def review_node(state: EpisodeState) -> dict:
        # Pure: LangGraph re-executes this node from the top on every resume, replaying the
        # decisions already given in order; nothing is recorded here (the person's side records).
        ai: AIMessage = state["messages"][-1]
        step = state.get("llm_turns", 0)
        calls = [dict(c) for c in ai.tool_calls]
        denials: dict = {}
        hints: list = []
        edited = False
        for i, c in enumerate(calls):
            cid = c["id"] or f"call_{step}_{i}"
            decision = interrupt({"kind": "review", "step": step, "call_id": cid, "name": c["name"],
                                  "args": c["args"], "index": i, "of": len(calls)}) or {}
            hints += list(decision.get("hints") or [])
            if decision.get("action") == "edit":
                c["args"] = decision["args"]
                edited = True
            elif decision.get("action") == "deny":
                denials[cid] = decision.get("reason") or "no reason given"
        update: dict = {"denials": denials, "hints": hints}
        if edited:  # same message id: add_messages replaces the call the model made with the edited one
            update["messages"] = [ai.model_copy(update={"tool_calls": calls})]
        return update

    def ask_node(state: EpisodeState) -> dict:
        blocked = question_blocked(state, limits, elapsed())
        if blocked:
            return {"asking": False, "ended_by": f"the {blocked} limit is reached"}
        question = interrupt({"kind": "question", "step": state.get("llm_turns", 0)})
        question = (question or "").strip()
        if not question or question.lower() == "quit":
            return {"asking": False, "ended_by": "the user ended the session"}
        return {"messages": [HumanMessage(content=question)], "asking": True,
                "questions": state.get("questions", 0) + 1}

    def tools_node(state: EpisodeState) -> dict:
        ai: AIMessage = state["messages"][-1]
        step = state.get("llm_turns", 0)
        forced = state.get("forced", False) and not state.get("asking")
        already = state.get("prediction") is not None
        n_calls = state.get("tool_calls", 0)
        denials = state.get("denials") or {}
        calls = [{"id": c["id"] or f"call_{step}_{i}", "name": c["name"], "args": c["args"]}
                 for i, c in enumerate(ai.tool_calls)]
        for c in calls:
            if c["id"] in denials:
                c["denied"] = denials[c["id"]]
        if review is not None:
            calls = review(calls, state)
        out: list = []
        prediction = None
        for c in calls:
            done = (answered or {}).pop(c["id"], None)
            if done is not None:  # run and recorded before the interruption: its result stands
                n_calls += done.origin == "tool"
                if c["name"] == "submit_prediction" and done.origin == "tool" and not done.is_error:
                    prediction = dict(c["args"])  # its PredictionEvent is in the transcript already
                out.append(tool_message(c, done.text, done.is_error,
                                        payload(c["name"], c["args"], done.text, done.is_error)))
                continue
            recorder.emit(tr.ToolCallEvent(step=step, call_id=c["id"], name=c["name"], args=c["args"]))
            data = None
            if c.get("denied"):
                text, is_error, latency, origin = f"error: the user denied this call: {c['denied']}", True, 0.0, "denied"
            elif prediction is not None or (already and c["name"] == "submit_prediction"):
                text, is_error, latency, origin = "error: a prediction was already submitted", True, 0.0, "already_submitted"
            elif forced and c["name"] != "submit_prediction":
                text, is_error, latency, origin = ("error: the limit is reached; only submit_prediction is allowed now",
                                                 True, 0.0, "forced_turn")
            elif n_calls >= limits.max_tool_calls and c["name"] != "submit_prediction":
                text, is_error, latency, origin = "error: tool-call limit reached; call submit_prediction", True, 0.0, "tool_limit"
            else:
                res = call_tool(subject, c["name"], c["args"], unchecked_ctx if forced else ctx)
                text, is_error, latency, origin, data = res.text, res.is_error, res.latency_ms, "tool", res.data
                n_calls += 1
                if c["name"] == "submit_prediction" and not is_error:
                    prediction = dict(c["args"])
                    recorder.emit(tr.PredictionEvent(step=step, forced=forced, **{
                        k: prediction[k] for k in ("label", "description", "implementation", "confidence")}))
            recorder.emit(tr.ToolResultEvent(step=step, call_id=c["id"], name=c["name"], text=text,
                                             is_error=is_error, latency_ms=round(latency, 2), origin=origin))
            out.append(tool_message(c, text, is_error, data))
        for i, bad in enumerate(ai.invalid_tool_calls):
            cid = bad.get("id") or f"bad_{step}_{i}"
            text = invalid_call_text(bad)
            recorder.emit(tr.ToolCallEvent(step=step, call_id=cid, name=bad.get("name") or "", args=bad.get("args")))
            recorder.emit(tr.ToolResultEvent(step=step, call_id=cid, name=bad.get("name") or "", text=text, is_error=True,
                                             origin="invalid_call"))
            out.append(tool_message({"id": cid, "name": bad.get("name") or ""}, text, True, None))
        if answered:
            answered.clear()  # only the step that was cut short had them
        context = state.get("context", 0) + sum(len(m.content) for m in out) // CHARS_PER_TOKEN
        if out and not state.get("asking") and limits is not None:
            # what is left, after the step's last result (the transcript's tool_result keeps the tool's text)
            left = budget_left({**state, "tool_calls": n_calls, "context": context}, limits, elapsed(), backend.priced)
            out[-1] = out[-1].model_copy(update={"content": f"{out[-1].content}\n\n{left}"})
            context += len(left) // CHARS_PER_TOKEN + 1
        out += [HumanMessage(content=HINT.format(text=h)) for h in state.get("hints") or []]
        update: dict = {"messages": out, "tool_calls": n_calls, "agent_s": elapsed(), "context": context}
        if interactive:
            update.update(denials={}, hints=[])
        if prediction is not None:
            update.update(prediction=prediction, status="prediction")
        return update

    def nudge_node(state: EpisodeState) -> dict:
        return {"messages": [HumanMessage(content=NUDGE)], "nudges": state.get("nudges", 0) + 1}

    def force_node(state: EpisodeState) -> dict:
        hit = exceeded(state, limits, elapsed()) or ("no-progress", float(MAX_NUDGES))
        recorder.emit(tr.LimitEvent(step=state.get("llm_turns", 0), limit=hit[0], value=hit[1]))
        notice = marked(HumanMessage(content=FORCE.format(limit=hit[0], value=hit[1])), forced=True, limit=hit[0])
        return {"messages": [notice], "forced": True, "limit": hit[0]}

    def give_up_node(state: EpisodeState) -> dict:
        return {"status": "no_prediction"}

    def after_agent(state: EpisodeState) -> str:
        if state.get("status") == "error":
            return END
        ai = state["messages"][-1]
        if ai.tool_calls or ai.invalid_tool_calls:
            return "review" if interactive and ai.tool_calls else "tools"
        if interactive and state.get("prediction") is not None:
            return "ask"  # the answer to a question
        if state.get("forced"):
            return "give_up"
        if state.get("nudges", 0) >= MAX_NUDGES or exceeded(state, limits, elapsed()):
            return "force"
        return "nudge"

    def after_tools(state: EpisodeState) -> str:
        if state.get("prediction") is not None:
            if not interactive:
                return END
            return "agent" if state.get("asking") and not question_blocked(state, limits, elapsed()) else "ask"
        if state.get("forced"):
            return "give_up"
        if exceeded(state, limits, elapsed()):
            return "force"
        return "agent"

    def after_ask(state: EpisodeState) -> str:
        return "agent" if state.get("asking") else END

    g = StateGraph(EpisodeState)
    g.add_node("agent", agent_node)
    g.add_node("tools", tools_node)
    g.add_node("nudge", nudge_node)
    g.add_node("force", force_node)
    g.add_node("give_up", give_up_node)
    g.add_edge(START, "agent")
    if interactive:
        g.add_node("review", review_node)
        g.add_node("ask", ask_node)
        g.add_edge("review", "tools")
        g.add_conditional_edges("ask", after_ask, ["agent", END])
        g.add_conditional_edges("agent", after_agent, ["review", "tools", "nudge", "force", "give_up", "ask", END])
        g.add_conditional_edges("tools", after_tools, ["agent", "force", "give_up", "ask", END])
    else:
        g.add_conditional_edges("agent", after_agent, ["tools", "nudge", "force", "give_up", END])
        g.add_conditional_edges("tools", after_tools, ["agent", "force", "give_up", END])
    g.add_edge("nudge", "agent")
    g.add_edge("force", "agent")
    g.add_edge("give_up", END)
    return g.compile(checkpointer=checkpointer)


def invalid_call_text(bad: dict) -> str:
    """The tool error that answers a call whose arguments could not be read (not JSON, or JSON but
    not an object: agent/backends/tool_args.py)."""
    error = bad.get("error") or "parse error"
    what = error if error.startswith(NOT_AN_OBJECT) else f"not valid JSON ({error})"
    return (f"error: the arguments of your {bad.get('name')!r} call are {what.removeprefix('the arguments are ')}; "
            "send a JSON object matching the tool's schema")


def tool_message(call: dict, text: str, is_error: bool, data) -> ToolMessage:
    """The result the model reads (`text`), with whether it succeeded and its structured payload
    alongside, for programs (`artifact`: tools/protocol/payloads.py `envelope`)."""
    return ToolMessage(content=text, tool_call_id=call["id"], name=call["name"], artifact=envelope(not is_error, data))


def initial_messages(system: str, opening: str, interface: Optional[dict] = None) -> list:
    """The system prompt (marked with the interface it states, when given) and the opening message."""
    prompt = SystemMessage(content=system)
    return [marked(prompt, interface=interface) if interface else prompt, HumanMessage(content=opening)]


def interface_of(subject) -> dict:
    """What every condition's prompt tells the investigator about the model's interface."""
    return {"vocab": list(subject.vocab), "max_seq_len": subject.max_seq_len,
            "numerical": subject.output_kind == "numerical"}


def opening_state(subject, config: EpisodeConfig, priced: bool = True) -> EpisodeState:
    """The graph's first input: the system prompt for the episode's condition, residual mode and
    budget (`priced`: whether the investigator's cost is known, so the prompt states a cost limit), the
    opening message, zero counters."""
    labels = closed_set_labels() if config.closed_set else None
    system = system_prompt(config.condition, subject, labels, config.residual, config.limits, priced)
    return {"messages": initial_messages(system, OPENING, interface_of(subject)),
            "tool_calls": 0, "llm_turns": 0, "tokens": 0, "cost": 0.0}
