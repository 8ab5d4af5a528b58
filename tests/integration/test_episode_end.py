"""Every episode, whatever happens, ends with a score event or a recorded reason why there is none.

One test per way an episode can end — a prediction, an LLM error, a limit, a tool that crashes,
Ctrl-C while investigating or while scoring, a scorer that crashes, a static dump whose LLM fails —
through `run_episode` with a scripted chat model on a real subject; and a subject that cannot be
loaded, through the real CLI (`run`) and a batch (`eval`), where the reason is the error line or
the results record.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage
from typer.testing import CliRunner

from fakes import ScriptedChatModel
from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.cli.main import app
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.records.limits import Limits

IMPL = "def f(tokens):\n    return list(reversed(tokens))\n"


def call(name, args, i="c1"):
    return {"id": i, "name": name, "args": args}


def submit(i="s1"):
    return call("submit_prediction", {"label": "reverse", "description": "reverses", "implementation": IMPL,
                                      "confidence": 0.9}, i)


def episode(subject, tmp_path, responses, condition="full", **limits):
    path = tmp_path / "t.jsonl"
    result = run_episode(subject, Backend("scripted", ScriptedChatModel(responses=responses, seen=[])),
                         condition=condition, limits=Limits(**limits), transcript_path=path)
    events, problem = tr.read_transcript(path)
    assert problem is None
    return result, events


def ending(events) -> tuple:
    """(score event or None, end event): the transcript must close with an end event, and either hold
    a score or say in the end event why it has none."""
    end = events[-1]
    assert isinstance(end, tr.EndEvent), f"the transcript does not end with an end event: {events[-1]!r}"
    scores = [e for e in events if isinstance(e, tr.ScoreEvent)]
    assert len(scores) <= 1
    score = scores[0] if scores else None
    if score is None:
        assert end.reason, f"no score event and no reason in the end event: {end!r}"
    return score, end


def test_prediction_is_scored(reverse_subject, tmp_path):
    result, events = episode(reverse_subject, tmp_path, [AIMessage(content="", tool_calls=[submit()])])
    score, end = ending(events)
    assert score.score.functional.correct and end.status == "prediction"


def test_llm_error_is_scored_as_no_prediction_with_the_error_recorded(reverse_subject, tmp_path):
    result, events = episode(reverse_subject, tmp_path, [RuntimeError("server said 500")])
    score, end = ending(events)
    assert end.status == "error" and score is not None and score.score.functional.correct is False
    assert any(isinstance(e, tr.ErrorEvent) and "server said 500" in e.message for e in events)


def test_limit_without_commit_is_scored(reverse_subject, tmp_path):
    probe = lambda i: AIMessage(content="", tool_calls=[call("run_model", {"inputs": [["a"]]}, f"c{i}")])  # noqa: E731
    _, events = episode(reverse_subject, tmp_path, [probe(1), probe(2), probe(3)], max_tool_calls=2)
    score, end = ending(events)
    assert end.status == "no_prediction" and score is not None
    assert any(isinstance(e, tr.LimitEvent) for e in events)


def test_tool_that_crashes_is_an_error_text_and_the_episode_is_scored(reverse_subject, tmp_path, monkeypatch):
    from tracr_agent.tools.suite.base import REGISTRY, tool_names

    tool_names("full")

    def boom(subject, ctx, args):
        raise ZeroDivisionError("a bug in the tool")

    monkeypatch.setattr(REGISTRY["model_info"], "fn", boom)
    result, events = episode(reverse_subject, tmp_path, [AIMessage(content="", tool_calls=[call("model_info", {})]),
                                                         AIMessage(content="", tool_calls=[submit()])])
    crash = [e for e in events if isinstance(e, tr.ToolResultEvent)][0]
    assert crash.is_error and "ZeroDivisionError: a bug in the tool" in crash.text
    score, end = ending(events)
    assert end.status == "prediction" and score.score.functional.correct


def test_ctrl_c_while_investigating_ends_interrupted_with_a_reason(reverse_subject, tmp_path):
    result, events = episode(reverse_subject, tmp_path, [KeyboardInterrupt()])
    score, end = ending(events)
    assert result.status == end.status == "interrupted" and score is None
    assert "interrupted" in end.reason


def test_ctrl_c_while_scoring_still_closes_the_transcript(reverse_subject, tmp_path, monkeypatch):
    import tracr_agent.agent.episode.lifecycle as lifecycle

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "score_episode", interrupted)
    result, events = episode(reverse_subject, tmp_path, [AIMessage(content="", tool_calls=[submit()])])
    score, end = ending(events)
    assert score is None and end.status == "interrupted" and "scor" in end.reason
    assert result.status == "interrupted" and result.prediction["label"] == "reverse"


def test_scorer_crash_is_the_recorded_reason(reverse_subject, tmp_path, monkeypatch):
    import tracr_agent.agent.episode.lifecycle as lifecycle

    def broken(*a, **k):
        raise ValueError("scorer bug")

    monkeypatch.setattr(lifecycle, "score_episode", broken)
    _, events = episode(reverse_subject, tmp_path, [AIMessage(content="", tool_calls=[submit()])])
    score, end = ending(events)
    assert score is None and "scorer bug" in end.reason and end.status == "prediction"


def test_static_condition_llm_error_is_scored(reverse_subject, tmp_path):
    _, events = episode(reverse_subject, tmp_path, [RuntimeError("model gone")], condition="static")
    score, end = ending(events)
    assert score is not None and end.status == "error"


def _broken_model_dir(tmp_path, reverse_subject):
    """A model directory whose card is fine but whose weights cannot be read."""
    from tracr_agent.tools.subjects.modeldir import write_model_dir

    d = tmp_path / "suite" / "broken"
    write_model_dir(d, reverse_subject.card, reverse_subject.weights)
    for w in d.glob("weights.*"):
        w.write_bytes(b"not weights")
    good = tmp_path / "suite" / "good"
    write_model_dir(good, reverse_subject.card, reverse_subject.weights)
    return d


def test_run_on_a_subject_that_cannot_load_is_one_line_and_writes_nothing(tmp_path, reverse_subject):
    d = _broken_model_dir(tmp_path, reverse_subject)
    out = tmp_path / "t"
    r = CliRunner().invoke(app, ["run", "--model-dir", str(d), "--llm", "baseline", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert r.output.strip().startswith("error:") and r.output.strip().count("\n") == 0
    assert "Traceback" not in r.output and not out.exists()


def test_eval_records_why_a_subject_could_not_load_and_goes_on(tmp_path, reverse_subject):
    from tracr_agent.agent.evaluation.batch import read_results

    _broken_model_dir(tmp_path, reverse_subject)
    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["eval", "--tasks", f"dir:{tmp_path / 'suite'}", "--conditions", "full",
                                 "--llm", "baseline", "--out", str(out)])
    assert r.exit_code == 0, r.output
    recs = {x.task: x for x in read_results(out)}
    assert set(recs) == {"broken", "good"}
    assert recs["broken"].status == "error" and recs["broken"].error  # the reason, in the record
    assert recs["good"].status == "prediction" and recs["good"].functional_correct
    good_events = tr.read_transcript(out / recs["good"].transcript)[0]
    ending(good_events)
    json.loads((out / "results.jsonl").read_text().splitlines()[0])
