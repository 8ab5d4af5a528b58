"""Interactive sessions, driven through real terminals (pexpect) with the deterministic closed-world baseline
(its fixed course of probes makes the steering steps predictable).

`run --interactive`: approve, edit (refused when invalid), deny, hint, a question after the
prediction; Ctrl-C / a lost terminal then `resume` finishing in the same transcript. `lab`: a
person calling the tools, a typo, completion, `submit` scored like an agent. Every transcript is
then replayed with `tracr-agent replay`. One graph-level test drives the interrupts directly.
"""

from __future__ import annotations

import signal

import pytest

import pexpect  # noqa: E402  (the test extra installs it)
from terminal import QUESTION, REVIEW, approve_until_question, cli, events_of, finish, of_type, spawn, start_interactive

from tracr_agent.agent.records import transcript as tr  # noqa: E402

# one pytest-xdist worker runs this whole module: the steered pexpect session (a module fixture) is run once
pytestmark = pytest.mark.xdist_group("test_interactive")


# -- one steered session: approve, hint, edit, deny, approve, question --------------------------------


@pytest.fixture(scope="module")
def steered(home):
    d, env = home
    path = d / "steered.jsonl"
    child, sid = start_interactive(env, path)
    child.expect_exact(REVIEW)                      # turn 1: model_info
    child.sendline("a")
    child.expect_exact(REVIEW)                      # turn 2: run_model with 31 probes
    child.sendline("h")
    child.expect_exact("hint> ")
    child.sendline("compare it with sorting")
    child.expect_exact(REVIEW)
    child.sendline("e")
    child.expect_exact("new arguments")
    child.sendline('{"inputs": [["a", "b"]')        # not JSON: refused, the prompt repeats
    child.expect_exact("refused: error: arguments for run_model are not valid JSON")
    child.expect_exact(REVIEW)
    child.sendline("e")
    child.expect_exact("new arguments")
    child.sendline('{"inputs": "abc"}')             # JSON, but not the tool's schema: refused
    child.expect_exact("refused: error: bad arguments for run_model: inputs")
    child.expect_exact(REVIEW)
    child.sendline("e")
    child.expect_exact("new arguments")
    child.sendline('{"inputs": [["a", "b", "c"]]}')
    child.expect_exact(REVIEW)                      # turn 3: distinguishing probes
    child.sendline("d")
    child.expect_exact("reason for denying> ")
    child.sendline("not yet")
    approve_until_question(child)                   # the baseline asks again, then submits
    child.sendline("why reverse?")
    child.expect_exact(QUESTION)
    child.sendline("")
    code = finish(child)
    return {"path": path, "sid": sid, "code": code, "screen": child.logfile_read.text,
            "events": events_of(path), "env": env}


def test_steered_session_finishes_and_scores(steered):
    assert steered["code"] == 0, steered["screen"][-3000:]
    ev = steered["events"]
    assert ev[0].session_id == steered["sid"] and ev[0].actor == "agent"
    assert isinstance(ev[-1], tr.EndEvent) and ev[-1].status == "prediction"
    score = of_type(ev, tr.ScoreEvent)[0].score
    assert score.label.correct and score.functional.correct
    assert "score: label correct" in steered["screen"]
    assert f"session {steered['sid']} finished" in steered["screen"]


def test_approve_is_recorded(steered):
    ev = steered["events"]
    first = of_type(ev, tr.HumanEvent)[0]
    assert (first.action, first.call_id, first.text) == ("approve", "bl_1_0", "model_info")
    assert of_type(ev, tr.ToolResultEvent, call_id="bl_1_0")[0].text.startswith("A Tracr-compiled transformer")


def test_edit_runs_the_edited_arguments(steered):
    ev = steered["events"]
    edit = of_type(ev, tr.HumanEvent, action="edit")
    assert len(edit) == 1 and edit[0].args == {"inputs": [["a", "b", "c"]]}  # the refused edits left no event
    asked = of_type(ev, tr.LLMResponse, step=2)[0].tool_calls[0]
    assert asked.id == "bl_2_0" and len(asked.args["inputs"]) > 1            # what the model asked for
    call = of_type(ev, tr.ToolCallEvent, call_id="bl_2_0")[0]
    assert call.args == {"inputs": [["a", "b", "c"]]}                       # what ran
    assert of_type(ev, tr.ToolResultEvent, call_id="bl_2_0")[0].text == '["a", "b", "c"] -> ["c", "b", "a"]'
    assert "refused: error: bad arguments for run_model: inputs: Input should be a valid list" in steered["screen"]


def test_deny_reaches_the_model(steered):
    ev = steered["events"]
    deny = of_type(ev, tr.HumanEvent, action="deny")[0]
    assert (deny.call_id, deny.text) == ("bl_3_0", "not yet")
    res = of_type(ev, tr.ToolResultEvent, call_id="bl_3_0")[0]
    assert res.is_error and res.text == "error: the user denied this call: not yet"
    seen = of_type(ev, tr.LLMRequest, step=4)[0].messages
    sent = next(m for m in seen if m.get("role") == "tool" and m.get("tool_call_id") == "bl_3_0")
    assert sent["name"] == "run_model" and sent["content"].startswith(res.text + "\n\n[budget left: ")
    # the baseline simply carried on: the same probes again, approved and executed
    assert not of_type(ev, tr.ToolResultEvent, call_id="bl_4_0")[0].is_error


def test_hint_joins_the_conversation(steered):
    ev = steered["events"]
    hint = of_type(ev, tr.HumanEvent, action="hint")[0]
    assert hint.text == "compare it with sorting" and hint.step == 2
    after = of_type(ev, tr.LLMRequest, step=3)[0].messages
    assert after[-1] == {"role": "user", "content": "Hint from the user: compare it with sorting"}
    assert after[0]["role"] == "tool"  # after the tool result, before the next turn


def test_question_after_prediction_is_answered(steered):
    ev = steered["events"]
    q = of_type(ev, tr.HumanEvent, action="question")[0]
    assert q.text == "why reverse?"
    i = ev.index(q)
    assert any(isinstance(e, tr.PredictionEvent) for e in ev[:i])
    answer = next(e for e in ev[i:] if isinstance(e, tr.LLMResponse))
    assert answer.text.startswith("My prediction stands: reverse") and not answer.tool_calls
    assert "My prediction stands: reverse" in steered["screen"]


def test_steered_transcript_replays_with_human_events(steered):
    p = cli(steered["env"], "replay", steered["path"])
    assert p.returncode == 0, p.stderr
    for line in ("human approve: model_info", "human hint: compare it with sorting",
                 'human edit: run_model {"inputs": [["a", "b", "c"]]}', "human deny: not yet",
                 "human question: why reverse?", "score: label correct"):
        assert line in p.stdout, line
    p = cli(steered["env"], "replay", steered["path"], "--rerun")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "skipped (denied by the user)" in p.stdout


# -- Ctrl-C, a lost terminal, resume ------------------------------------------------------------


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_ctrl_c_then_resume_finishes_in_the_same_transcript(home):
    d, env = home
    path = d / "resumed.jsonl"
    child, sid = start_interactive(env, path)
    child.expect_exact(REVIEW)
    child.sendline("a")
    child.expect_exact(REVIEW)                      # waiting on the run_model call
    p = cli(env, "resume", sid)                     # a second driver is refused while this one runs
    assert p.returncode == 2 and "is being driven by another process" in p.stderr
    child.sendintr()
    child.expect_exact(f"tracr-agent resume {sid}")
    assert finish(child) == 130
    before = events_of(path)
    assert not of_type(before, tr.EndEvent)
    assert "Ctrl-C" in of_type(before, tr.HumanEvent, action="pause")[-1].text

    child = spawn(env, "resume", sid)
    child.expect_exact(f"resuming session {sid}")
    approve_until_question(child)
    child.sendline("quit")
    assert finish(child) == 0, child.logfile_read.text[-3000:]

    ev = events_of(path)
    assert ev[:len(before)] == before               # appended, not rewritten
    assert len(of_type(ev, tr.Header)) == 1 and len(of_type(ev, tr.EndEvent)) == 1
    assert of_type(ev, tr.HumanEvent, action="resume")
    assert ev[-1].status == "prediction" and of_type(ev, tr.ScoreEvent)[0].score.label.correct
    assert [e.t for e in ev] == sorted(e.t for e in ev)  # time continues across the two processes
    # run_model was proposed once, before the interrupt, and approved once, after it
    assert [h.call_id for h in of_type(ev, tr.HumanEvent, action="approve")][:2] == ["bl_1_0", "bl_2_0"]
    assert [e.step for e in of_type(ev, tr.LLMRequest)] == list(range(1, len(of_type(ev, tr.LLMRequest)) + 1))

    p = cli(env, "resume", sid)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [f"error: session {sid} is finished (transcript: {path})"]
    p = cli(env, "resume", "nosuchid")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert p.stderr.startswith("error: unknown session 'nosuchid'")
    p = cli(env, "replay", path)
    assert p.returncode == 0 and "human pause: session interrupted (Ctrl-C)" in p.stdout
    assert "human resume: session resumed" in p.stdout


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_interrupt_while_working_and_lost_terminal(home):
    d, env = home
    path = d / "hangup.jsonl"
    child, sid = start_interactive(env, path)
    child.expect_exact(REVIEW)
    child.sendline("a")
    child.expect_exact(REVIEW)
    child.sendline("a")
    child.expect_exact("→ run_model")                # the graph is executing the call (or just done)
    child.sendintr()
    child.expect_exact(f"tracr-agent resume {sid}")
    assert finish(child) == 130

    child = spawn(env, "resume", sid)
    child.expect_exact(REVIEW)
    child.kill(signal.SIGHUP)                       # the terminal goes away mid-prompt
    child.expect(pexpect.EOF)
    child.close()
    assert "terminal lost" in of_type(events_of(path), tr.HumanEvent, action="pause")[-1].text

    child = spawn(env, "resume", sid)
    approve_until_question(child)
    child.sendline("")
    assert finish(child) == 0, child.logfile_read.text[-3000:]
    ev = events_of(path)
    assert len(of_type(ev, tr.EndEvent)) == 1 and ev[-1].status == "prediction"
    assert len(of_type(ev, tr.HumanEvent, action="resume")) == 2
    assert of_type(ev, tr.ScoreEvent)[0].score.functional.correct
    p = cli(env, "replay", path, "--rerun")
    assert p.returncode == 0, p.stdout + p.stderr


_PROMPT_SCRIPT = """
import signal, sys, threading, time
from tracr_agent.agent.interactive.session import read_line
def poke():  # a Ctrl-C the kernel hands to another thread than the one at the prompt
    time.sleep(float(sys.argv[1]))
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
threading.Thread(target=poke, daemon=True).start()
try:
    print("LINE", repr(read_line("> ")))
except KeyboardInterrupt:
    print("INTERRUPTED")
"""


def test_a_ctrl_c_that_lands_on_another_thread_still_interrupts_the_prompt():
    """The review prompt waits in select() ticks, not in input()'s read() alone: a SIGINT received by
    another thread (the session has LangGraph's and the tools' threads) interrupts it at once, where
    plain input() would wait for Enter; a typed line still comes back as typed."""
    import sys
    import time

    child = pexpect.spawn(sys.executable, ["-c", _PROMPT_SCRIPT, "1.0"], encoding="utf-8", timeout=30)
    child.expect_exact("> ")
    t0 = time.monotonic()
    child.expect_exact("INTERRUPTED", timeout=10)
    assert time.monotonic() - t0 < 5
    child.expect(pexpect.EOF)
    child = pexpect.spawn(sys.executable, ["-c", _PROMPT_SCRIPT, "60"], encoding="utf-8", timeout=30)
    child.expect_exact("> ")
    child.sendline("a  b")
    child.expect_exact("LINE 'a  b'")
    child.expect(pexpect.EOF)


def test_interactive_option_errors(home):
    _, env = home
    p = cli(env, "run", "reverse", "--llm", "baseline-closed", "--interactive", "--condition", "static")
    assert p.returncode == 2 and p.stderr.strip().startswith("error: --interactive needs a condition with tools")
    p = cli(env, "run", "reverse", "--llm", "baseline-closed", "--interactive", "--quiet")
    assert p.returncode == 2 and "drop --quiet" in p.stderr


# -- the lab -------------------------------------------------------------------------------------


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_lab_session_runs_tools_and_submits(home, reverse_subject):
    from tracr_agent.tools.suite.base import ToolContext, call_tool

    d, env = home
    path = d / "lab.jsonl"
    child = spawn(env, "lab", "reverse", "--transcript", path)
    child.expect_exact("lab> ")
    child.sendline("help")
    child.expect_exact("attention_pattern")
    child.expect_exact("lab> ")
    child.sendline("help attention_pattern")
    child.expect_exact("attention_pattern(layer: int, head: int, input: list)")
    child.expect_exact("lab> ")
    child.send("run_mo\t")                          # readline completes the tool name
    child.expect_exact("run_model")
    child.sendline(' {"inputs": [["a", "b", "c"], ["d", "a"]]}')
    child.expect_exact('["a", "b", "c"] -> ["c", "b", "a"]')
    child.expect_exact("lab> ")
    child.sendline('run_modle {"inputs": [["a"]]}')
    typo = call_tool(reverse_subject, "run_modle", {"inputs": [["a"]]}, ToolContext()).text
    child.expect_exact(typo[:60])
    child.expect_exact("lab> ")
    child.send("get_activations hook=blocks.0.attn.hook_pat\t")   # hook names complete too
    child.expect_exact("hook_pattern")
    child.sendline(' input=["a", "b"]')
    child.expect_exact("blocks.0.attn.hook_pattern for input")
    child.expect_exact("lab> ")
    child.sendline("attention_pattern layer=3 head=0 input=[\"a\", \"b\", \"c\"]")
    child.expect_exact("anti-diagonal")
    child.expect_exact("lab> ")
    child.sendline("submit")
    child.expect_exact("label: ")
    child.sendline("reverse")
    child.expect_exact("description: ")
    child.sendline("the input read back to front")
    child.expect_exact("... ")
    child.sendline("def f(tokens):")
    child.expect_exact("... ")
    child.sendline("    return tokens[::-1]")
    child.expect_exact("... ")
    child.sendline(".")
    child.expect_exact("confidence (0..1): ")
    child.sendline("high")
    child.expect_exact("not a number")
    child.sendline("0.9")
    child.expect_exact("score: label correct (exact) · implementation correct (100.0% of 1364 inputs)")
    assert finish(child) == 0

    ev = events_of(path)
    assert ev[0].actor == "human" and ev[0].llm == "human"
    calls = of_type(ev, tr.ToolCallEvent)
    assert [c.name for c in calls] == ["run_model", "run_modle", "get_activations", "attention_pattern", "submit_prediction"]
    assert calls[2].args == {"hook": "blocks.0.attn.hook_pattern", "input": ["a", "b"]}
    assert calls[3].args == {"layer": 3, "head": 0, "input": ["a", "b", "c"]}
    assert len(of_type(ev, tr.HumanEvent, action="tool")) == 5
    assert of_type(ev, tr.ToolResultEvent, name="run_modle")[0].text == typo
    pred = of_type(ev, tr.PredictionEvent)[0]
    assert pred.label == "reverse" and pred.implementation == "def f(tokens):\n    return tokens[::-1]\n"
    score = of_type(ev, tr.ScoreEvent)[0].score
    assert score.label.correct and score.functional.correct
    assert ev[-1].status == "prediction" and ev[-1].tool_calls == 5

    history = (d / "data" / "tracr-agent" / "lab_history").read_text().splitlines()
    assert history[0] == "help" and "submit" in history and "reverse" not in history

    p = cli(env, "replay", path)
    assert p.returncode == 0, p.stderr
    assert "human tool: run_modle" in p.stdout and "tracr-agent · subject reverse · condition full · human" in p.stdout
    p = cli(env, "transcripts", d)
    assert p.returncode == 0 and "human" in p.stdout


def test_lab_whitebox_hides_run_model(home):
    d, env = home
    path = d / "lab-wb.jsonl"
    child = spawn(env, "lab", "reverse", "--condition", "whitebox", "--transcript", path)
    child.expect_exact("lab> ")
    child.sendline("help")
    child.expect_exact("lab> ")
    assert "run_model" not in child.before
    child.sendline('run_model {"inputs": [["a"]]}')
    child.expect_exact("error: tool run_model is not available in this session.")
    child.expect_exact("lab> ")
    child.sendline("quit")
    assert finish(child) == 0
    ev = events_of(path)
    assert ev[0].condition == "whitebox" and ev[-1].status == "no_prediction"
    assert not of_type(ev, tr.PredictionEvent)


# -- the graph's interrupts, without a terminal --------------------------------------------------


def test_graph_interrupts_and_resume_values(reverse_subject, tmp_path):
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from tracr_agent.agent.loop.graph import build_graph, initial_messages
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.agent.records.recorder import Recorder
    from tracr_agent.agent.backends.llm import Backend
    from fakes import ScriptedChatModel
    from tracr_agent.tools.suite.base import ToolContext

    submit = {"label": "reverse", "description": "d", "implementation": "def f(t):\n    return t[::-1]\n",
              "confidence": 0.9}
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[{"id": "c1", "name": "run_model", "args": {"inputs": [["a"]]}},
                                          {"id": "c2", "name": "model_info", "args": {}}]),
        AIMessage(content="", tool_calls=[{"id": "s1", "name": "submit_prediction", "args": submit}]),
        AIMessage(content="it reverses"),
    ], seen=[])
    emitted: list = []
    graph = build_graph(reverse_subject, Backend("scripted", model), ToolContext(), Limits(), Recorder(None, [emitted.append]),
                        checkpointer=InMemorySaver(), interactive=True)
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": initial_messages("sys", "go")}, config)

    def pending():
        return [i.value for t in graph.get_state(config).tasks for i in t.interrupts]

    assert pending() == [{"kind": "review", "step": 1, "call_id": "c1", "name": "run_model",
                          "args": {"inputs": [["a"]]}, "index": 0, "of": 2}]
    graph.invoke(Command(resume={"action": "edit", "args": {"inputs": [["b", "a"]]}, "hints": ["look at layer 3"]}), config)
    assert pending()[0]["call_id"] == "c2"
    graph.invoke(Command(resume={"action": "deny", "reason": "enough info"}), config)
    assert pending()[0]["name"] == "submit_prediction"
    graph.invoke(Command(resume={"action": "approve"}), config)
    assert pending() == [{"kind": "question", "step": 2}]
    graph.invoke(Command(resume="what does it do?"), config)
    assert pending() == [{"kind": "question", "step": 3}]
    graph.invoke(Command(resume=""), config)
    state = graph.get_state(config)
    assert not state.next and state.values["prediction"]["label"] == "reverse"

    results = {e.call_id: e.text for e in emitted if isinstance(e, tr.ToolResultEvent)}
    assert results["c1"] == '["b", "a"] -> ["a", "b"]'
    assert results["c2"] == "error: the user denied this call: enough info"
    second = [m.content for m in model.seen[1]]
    assert second[-1] == "Hint from the user: look at layer 3"
    assert [m.content for m in model.seen[2]][-1] == "what does it do?"
    ai = model.seen[1][2]
    assert ai.tool_calls[0]["args"] == {"inputs": [["b", "a"]]}  # the edit replaced the model's call


def test_interactive_graph_needs_a_checkpointer(reverse_subject):
    from tracr_agent.agent.loop.graph import build_graph
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.agent.records.recorder import Recorder
    from tracr_agent.agent.backends.llm import Backend
    from fakes import ScriptedChatModel
    from tracr_agent.tools.suite.base import ToolContext

    with pytest.raises(ValueError, match="checkpointer"):
        build_graph(reverse_subject, Backend("s", ScriptedChatModel(responses=[], seen=[])), ToolContext(), Limits(),
                    Recorder(None), interactive=True)
