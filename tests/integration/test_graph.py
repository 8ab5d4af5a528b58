"""Every path through the investigation graph, driven by a scripted chat model on a real subject."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.records.limits import Limits
from tracr_agent.agent.backends.llm import Backend
from fakes import ScriptedChatModel

REVERSE_IMPL = "def f(tokens):\n    return list(reversed(tokens))\n"


def call(name, args, i="c1"):
    return {"id": i, "name": name, "args": args}


def submit(label="reverse", impl=REVERSE_IMPL, i="s1"):
    return call("submit_prediction", {"label": label, "description": "reverses the sequence",
                                      "implementation": impl, "confidence": 0.9}, i)


def run(subject, tmp_path, responses, condition="full", **limits):
    model = ScriptedChatModel(responses=responses, seen=[])
    path = tmp_path / "t.jsonl"
    result = run_episode(subject, Backend("scripted", model), condition=condition,
                         limits=Limits(**limits), transcript_path=path)
    events, problem = tr.read_transcript(path)
    assert problem is None
    return result, events, model


def tool_results(events):
    return [e for e in events if isinstance(e, tr.ToolResultEvent)]


def test_normal_submit_scores_correct(reverse_subject, tmp_path):
    result, events, _ = run(reverse_subject, tmp_path, [
        AIMessage(content="look", tool_calls=[call("run_model", {"inputs": [["a", "b", "c"]]})]),
        AIMessage(content="", tool_calls=[submit()]),
    ])
    assert result.status == "prediction"
    assert result.prediction["label"] == "reverse"
    assert result.score.label.correct and result.score.functional.correct
    assert tool_results(events)[0].text == '["a", "b", "c"] -> ["c", "b", "a"]'
    assert isinstance(events[0], tr.Header) and isinstance(events[-1], tr.EndEvent)
    assert result.tool_calls == 2 and result.llm_turns == 2


def test_tool_error_goes_back_to_model(reverse_subject, tmp_path):
    result, events, model = run(reverse_subject, tmp_path, [
        AIMessage(content="", tool_calls=[call("run_model", {"inputs": [["a", "z"]]})]),
        AIMessage(content="", tool_calls=[submit()]),
    ])
    res = tool_results(events)[0]
    assert res.is_error and 'token "z" is not in the vocab ["a", "b", "c", "d"]' in res.text
    # the second LLM call saw the error as a tool message
    last_seen = model.seen[1][-1]
    assert isinstance(last_seen, ToolMessage) and "not in the vocab" in last_seen.content
    assert result.status == "prediction"


def test_unknown_tool_is_reported(reverse_subject, tmp_path):
    _, events, model = run(reverse_subject, tmp_path, [
        AIMessage(content="", tool_calls=[call("run_modle", {"inputs": [["a"]]})]),
        AIMessage(content="", tool_calls=[submit()]),
    ])
    res = tool_results(events)[0]
    assert res.is_error and "unknown tool 'run_modle'" in res.text and "Did you mean run_model" in res.text


def test_malformed_arguments(reverse_subject, tmp_path):
    bad_json = AIMessage(content="", invalid_tool_calls=[
        {"id": "b1", "name": "run_model", "args": "{inputs: [[a,b]", "error": "bad json", "type": "invalid_tool_call"}])
    wrong_type = AIMessage(content="", tool_calls=[call("attention_pattern", {"layer": "zero", "head": 0, "input": ["a"]}, "c2")])
    result, events, _ = run(reverse_subject, tmp_path, [bad_json, wrong_type, AIMessage(content="", tool_calls=[submit()])])
    results = tool_results(events)
    assert results[0].is_error and "not valid JSON" in results[0].text
    assert results[1].is_error and "bad arguments for attention_pattern" in results[1].text and "layer" in results[1].text
    assert result.status == "prediction"


def test_limit_reached_forces_commit(reverse_subject, tmp_path):
    probe = lambda i: AIMessage(content="", tool_calls=[call("run_model", {"inputs": [["a"]]}, f"c{i}")])  # noqa: E731
    result, events, model = run(reverse_subject, tmp_path, [probe(1), probe(2), AIMessage(content="", tool_calls=[submit()])],
                                max_tool_calls=2)
    limits = [e for e in events if isinstance(e, tr.LimitEvent)]
    assert len(limits) == 1 and limits[0].limit == "tool-call"
    assert isinstance(model.seen[2][-1], HumanMessage) and "only allowed action" in model.seen[2][-1].content
    pred = [e for e in events if isinstance(e, tr.PredictionEvent)]
    assert pred and pred[0].forced
    assert result.status == "prediction"


def test_forced_commit_refused_ends_without_prediction(reverse_subject, tmp_path):
    probe = lambda i: AIMessage(content="", tool_calls=[call("run_model", {"inputs": [["a"]]}, f"c{i}")])  # noqa: E731
    result, events, _ = run(reverse_subject, tmp_path, [probe(1), probe(2), probe(3)], max_tool_calls=2)
    assert result.status == "no_prediction" and result.prediction is None
    # the call made in the forced turn was refused, not executed
    assert tool_results(events)[-1].text.startswith("error: the limit is reached")
    assert events[-1].status == "no_prediction"
    score = [e for e in events if isinstance(e, tr.ScoreEvent)][0].score
    assert score.functional.correct is False


def test_empty_reply_is_nudged_then_forced(reverse_subject, tmp_path):
    result, events, model = run(reverse_subject, tmp_path, [
        AIMessage(content=""), AIMessage(content="thinking"), AIMessage(content="still thinking"),
        AIMessage(content="", tool_calls=[submit()]),
    ])
    assert result.status == "prediction"
    assert [e.limit for e in events if isinstance(e, tr.LimitEvent)] == ["no-progress"]
    assert "calling a tool" in model.seen[1][-1].content


def test_llm_error_is_recorded(reverse_subject, tmp_path):
    result, events, _ = run(reverse_subject, tmp_path, [RuntimeError("server said 500")])
    assert result.status == "error"
    errs = [e for e in events if isinstance(e, tr.ErrorEvent)]
    assert errs and "server said 500" in errs[0].message
    assert events[-1].status == "error"


def test_blackbox_hides_internal_tools(reverse_subject, tmp_path):
    _, events, _ = run(reverse_subject, tmp_path, [
        AIMessage(content="", tool_calls=[call("attention_pattern", {"layer": 0, "head": 0, "input": ["a"]})]),
        AIMessage(content="", tool_calls=[submit()]),
    ], condition="blackbox")
    res = tool_results(events)[0]
    assert res.is_error and "not available in this session" in res.text


def test_system_prompt_never_names_the_task(reverse_subject, tmp_path):
    from tracr_agent.tools.subjects.leak import find_leaks

    _, events, model = run(reverse_subject, tmp_path, [AIMessage(content="", tool_calls=[submit()])])
    first = model.seen[0]
    text = "\n".join(m.content for m in first)
    assert find_leaks(text, reverse_subject.truth) == []
    assert "submit_prediction" in text


@pytest.mark.parametrize("condition", ["static", "static+io"])
def test_static_conditions_make_one_prompt(reverse_subject, tmp_path, condition):
    answer = ("Layer 3 attends anti-diagonally.\n```python\n" + REVERSE_IMPL + "```\nPREDICTION: reverse")
    result, events, model = run(reverse_subject, tmp_path, [AIMessage(content=answer)], condition=condition)
    assert len(model.seen) == 1
    prompt = model.seen[0][0].content
    assert prompt.startswith("Analyse this tracr model layer by layer.")
    assert "hook_pattern" in prompt and "hook_pos_embed" in prompt
    assert ("input/output pairs" in prompt) == (condition == "static+io")
    assert result.prediction["label"] == "reverse"
    assert result.score.label.correct and result.score.functional.correct
