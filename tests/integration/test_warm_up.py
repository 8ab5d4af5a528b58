"""Cold start: an episode loads its subject's TransformerLens bridge in the background
(`Subject.warm_up_async`, called by run_episode as it starts), tool calls wait for it, and an
error of the background load reaches the first tool call as the same one-line error as without it."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.tools.errors import SubjectError
from tracr_agent.tools.subjects import modeldir
from tracr_agent.tools.subjects.tasks import load_task
from tracr_agent.tools.suite import ToolContext, call_tool

from fakes import ScriptedChatModel

RUN = {"inputs": [["a", "b", "c"]]}


def counting_builds(monkeypatch, fail: bool = False) -> list:
    """Counts bridge builds (and makes them fail when asked) through the real build_bridge."""
    calls: list = []
    real = modeldir.build_bridge

    def build(card, weights):
        calls.append(1)
        if fail:
            raise SubjectError("the model directory's weights do not fit its card (simulated)")
        return real(card, weights)

    monkeypatch.setattr(modeldir, "build_bridge", build)
    return calls


def test_the_background_bridge_is_the_one_tools_use(monkeypatch):
    builds = counting_builds(monkeypatch)
    subject = load_task("reverse")  # a fresh Subject: no bridge yet
    subject.warm_up_async()
    subject.warm_up_async()  # a second call while warming is a no-op
    res = call_tool(subject, "run_model", RUN, ToolContext())  # waits for the background build
    assert not res.is_error and res.text == '["a", "b", "c"] -> ["c", "b", "a"]'
    assert builds == [1]
    subject.warm_up_async()  # already built: nothing happens
    assert call_tool(subject, "run_model", RUN, ToolContext()).text == res.text and builds == [1]


def test_a_background_failure_is_the_same_error_as_without_warm_up(monkeypatch):
    builds = counting_builds(monkeypatch, fail=True)
    cold = call_tool(load_task("reverse"), "run_model", RUN, ToolContext())
    assert cold.is_error and "simulated" in cold.text and "\n" not in cold.text
    warmed = load_task("reverse")
    warmed.warm_up_async()
    first = call_tool(warmed, "run_model", RUN, ToolContext())
    assert first.is_error and first.text == cold.text  # surfaced, not lost, and worded the same
    again = call_tool(warmed, "run_model", RUN, ToolContext())  # later calls try again, as without warm-up
    assert again.text == cold.text and len(builds) == 3


def test_run_episode_starts_loading_before_the_first_llm_turn(tmp_path):
    subject = load_task("reverse")
    seen: list = []

    def at_first_request(event):
        if isinstance(event, tr.LLMRequest) and not seen:
            seen.append(subject._warming is not None or subject._bridge is not None)

    submit = AIMessage(content="", tool_calls=[{"id": "s1", "name": "submit_prediction", "args": {
        "label": "reverse", "description": "reverses", "implementation": "def f(t):\n    return t[::-1]\n",
        "confidence": 0.9}}])
    run_episode(subject, Backend("scripted", ScriptedChatModel(responses=[submit], seen=[])), condition="full",
                transcript_path=tmp_path / "t.jsonl", listeners=[at_first_request], score=False)
    assert seen == [True]


def test_concurrent_episodes_sharing_a_subject_get_one_bridge(monkeypatch):
    """Batch evaluation runs episodes of one subject in several threads: each starts a warm-up and
    calls tools at once. Every call must get the right answer from one build (a thread published
    before it was started once made a concurrent caller fail with "cannot join thread")."""
    import threading

    builds = counting_builds(monkeypatch)
    for _ in range(5):
        subject = load_task("reverse")
        texts: list = []
        go = threading.Barrier(6)

        def episode():
            go.wait()
            subject.warm_up_async()
            texts.append(call_tool(subject, "run_model", RUN, ToolContext()).text)

        threads = [threading.Thread(target=episode) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert texts == ['["a", "b", "c"] -> ["c", "b", "a"]'] * 6
    assert len(builds) == 5
