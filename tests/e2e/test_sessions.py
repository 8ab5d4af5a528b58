"""Every resumable episode is listed and resumed the same way (issue 11 item 9), through real terminals.

- A hint typed at the review prompt and then Ctrl-C'd before the call is decided reaches the agent
  after `resume`.
- `tracr-agent sessions` lists open sessions (subject, condition, age, where it stopped; --json).
- The lab can be paused (or lose its terminal) and resumed into the same transcript.
- The wall-time clock continues across a resume instead of restarting.
"""

from __future__ import annotations

import json
import signal

import pytest

import pexpect  # noqa: E402  (the test extra installs it)
from terminal import REVIEW, approve_until_question, cli, events_of, finish, of_type, spawn, start_interactive

from tracr_agent.agent.records import transcript as tr  # noqa: E402

LAB = "lab> "


def open_sessions(env) -> dict:
    p = cli(env, "sessions", "--json")
    assert p.returncode == 0, p.stderr
    return {r["id"]: r for r in json.loads(p.stdout)}


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_hint_then_ctrl_c_reaches_the_agent_on_resume(home):
    d, env = home
    path = d / "hinted.jsonl"
    child, sid = start_interactive(env, path, llm="baseline")
    child.expect_exact(REVIEW)                      # turn 1: model_info, not decided yet
    child.sendline("h")
    child.expect_exact("hint> ")
    child.sendline("look at the positions")
    child.expect_exact(REVIEW)
    child.sendintr()                                # Ctrl-C before approving the call
    assert finish(child) == 130

    listed = open_sessions(env)
    assert sid in listed, listed
    row = listed[sid]
    assert (row["kind"], row["subject"], row["condition"], row["llm"]) == ("interactive", "reverse", "full", "baseline")
    assert row["where"].startswith("turn 1: reviewing model_info") and row["age_s"] >= 0 and not row["running"]
    table = cli(env, "sessions")
    assert table.returncode == 0 and sid in table.stdout and "reviewing model_info" in table.stdout

    child = spawn(env, "resume", sid)
    child.expect_exact("1 hint(s) typed before the interruption")
    approve_until_question(child)
    child.sendline("quit")
    assert finish(child) == 0, child.logfile_read.text[-3000:]

    ev = events_of(path)
    assert len(of_type(ev, tr.HumanEvent, action="hint")) == 1  # recorded once, when it was typed
    after = of_type(ev, tr.LLMRequest, step=2)[0].messages
    assert after[-1] == {"role": "user", "content": "Hint from the user: look at the positions"}
    assert ev[-1].status == "prediction"
    assert sid not in open_sessions(env)            # finished sessions are not listed


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_lab_pauses_loses_its_terminal_and_resumes(home):
    d, env = home
    path = d / "lab-resumed.jsonl"
    child = spawn(env, "lab", "reverse", "--transcript", path)
    child.expect_exact(LAB)
    child.sendline("model_info")
    child.expect_exact(LAB)
    child.sendline("pause")
    child.expect(r"continue it with: tracr-agent resume ([0-9a-f]{8})")
    sid = child.match.group(1)
    assert finish(child) == 0
    row = open_sessions(env)[sid]
    assert (row["kind"], row["subject"], row["condition"], row["llm"]) == ("lab", "reverse", "full", "human")
    assert row["where"] == "1 tool calls, no prediction yet"

    child = spawn(env, "resume", sid)               # a lost terminal leaves it open too
    child.expect_exact(f"resuming lab {sid}")
    child.expect_exact(LAB)
    child.sendline('run_model inputs=[["a", "b", "c"]]')
    child.expect_exact('["a", "b", "c"] -> ["c", "b", "a"]')
    child.expect_exact(LAB)
    child.kill(signal.SIGHUP)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 129 or child.signalstatus == signal.SIGHUP
    assert open_sessions(env)[sid]["where"] == "2 tool calls, no prediction yet"

    submit = {"label": "reverse", "description": "reversed", "implementation": "def f(t):\n    return t[::-1]\n",
              "confidence": 0.9}
    p = cli(env, "resume", sid, input="submit_prediction " + json.dumps(submit) + "\n")  # stdin piped, in process
    assert p.returncode == 0 and "score: label correct" in p.stdout, p.stdout + p.stderr

    ev = events_of(path)
    assert len(of_type(ev, tr.Header)) == 1 and len(of_type(ev, tr.EndEvent)) == 1
    assert [c.name for c in of_type(ev, tr.ToolCallEvent)] == ["model_info", "run_model", "submit_prediction"]
    assert len({c.call_id for c in of_type(ev, tr.ToolCallEvent)}) == 3  # steps go on across resumes
    assert ev[-1].status == "prediction" and ev[-1].tool_calls == 3
    assert [e.t for e in ev] == sorted(e.t for e in ev)
    assert len(of_type(ev, tr.HumanEvent, action="resume")) == 2
    assert "terminal lost" in of_type(ev, tr.HumanEvent, action="pause")[-1].text
    assert sid not in open_sessions(env)
    p = cli(env, "resume", sid)
    assert p.returncode == 2 and "is finished" in p.stderr


def test_wall_clock_continues_across_a_resume(reverse_subject):
    """A session interrupted after 8 s of its 10 s budget has 2 s left when resumed, not 10: the graph
    checkpoints the time it used (`agent_s`) and a resumed session passes it back in."""
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from fakes import ScriptedChatModel
    from tracr_agent.agent.backends.llm import Backend
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.agent.records.recorder import Recorder
    from tracr_agent.agent.loop.graph import build_graph, initial_messages
    from tracr_agent.tools.suite.base import ToolContext

    def resumed_events(carry_time: bool) -> tuple[float, list]:
        calls = [{"id": f"c{i}", "name": "model_info", "args": {}} for i in range(3)]
        model = ScriptedChatModel(responses=[AIMessage(content="", tool_calls=[c]) for c in calls], seen=[])
        saver, config, now, events = InMemorySaver(), {"configurable": {"thread_id": "t"}}, [0.0], []

        def graph(before: float):
            return build_graph(reverse_subject, Backend("scripted", model), ToolContext(), Limits(max_seconds=10),
                               Recorder(None, [events.append]), checkpointer=saver, interactive=True,
                               clock=lambda: now[0], elapsed_before=before)

        first = graph(0.0)
        now[0] = 8.0                                 # the first turn takes 8 s; then the person stops
        first.invoke({"messages": initial_messages("sys", "go")}, config)
        used = saver.get_tuple(config).checkpoint["channel_values"]["agent_s"]
        assert not of_type(events, tr.LimitEvent)
        now[0] = 1000.0                              # another process, another clock
        second = graph(used if carry_time else 0.0)
        now[0] = 1003.0                              # the approved call takes 3 s
        second.invoke(Command(resume={"action": "approve"}), config)
        return used, events

    used, events = resumed_events(carry_time=True)
    assert used == 8.0
    limit = of_type(events, tr.LimitEvent)
    assert limit and limit[0].limit == "wall-time (s)"  # 8 + 3 >= 10
    _, restarted = resumed_events(carry_time=False)
    assert not of_type(restarted, tr.LimitEvent)      # a restarted clock would see only 3 s


def test_an_interrupt_a_library_swallows_is_raised_again_at_the_next_prompt(tmp_path):
    """While a session is driven, Ctrl-C, SIGTERM and SIGHUP raise as before and are also remembered:
    one that a library swallows (LangGraph's executor callbacks catch BaseException) is raised again
    before the next prompt instead of being lost; leaving the session forgets it, and a signal ignored
    on purpose (nohup, a background job) stays ignored."""
    import os
    import time

    from types import SimpleNamespace

    from tracr_agent.agent.interactive.session import SessionDriver
    from tracr_agent.agent.episode.store import Hangup, SessionStore, driving, raise_if_interrupted

    store = SessionStore(tmp_path / "sessions.sqlite")
    for sig, kind in ((signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Hangup), (signal.SIGHUP, Hangup)):
        before = signal.getsignal(sig)
        with driving(store, "s1"):
            try:
                os.kill(os.getpid(), sig)
                time.sleep(5)  # the handler raises in here
                raise AssertionError("the signal was not raised")
            except BaseException as e:  # swallowed, as a library callback would
                assert type(e) is kind and getattr(e, "signum", sig) == sig
            with pytest.raises(kind) as raised:
                raise_if_interrupted()
            assert getattr(raised.value, "signum", sig) == sig
            with pytest.raises(kind):  # the review and question prompts ask first, before reading a line
                SessionDriver._input(SimpleNamespace(human_s=0.0), REVIEW)
        raise_if_interrupted()  # the session was left: nothing is pending
        assert signal.getsignal(sig) == before
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with driving(store, "s1"):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)
