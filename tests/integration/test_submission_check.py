"""submit_prediction runs f in the real sandbox on a few inputs before recording it: what would score 0%
for a reason the investigator can fix (a blocked import, an exception, a wrong length, a value outside
the output set) comes back as a tool error that counts as a call; what is well formed is recorded,
right or wrong (the check never compares f with the model)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from fakes import ScriptedChatModel
from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.suite.base import ToolContext, call_tool
from tracr_agent.tools.suite.prediction import check_inputs_for


def submit(impl: str, label: str = "x") -> dict:
    return {"label": label, "description": "d", "implementation": impl, "confidence": 0.5}


def submitted(subject, impl: str, seed: int = 0):
    return call_tool(subject, "submit_prediction", submit(impl), ToolContext(seed=seed))


NUMPY_FRAC = """
import numpy as np
def f(tokens):
    xs = np.array([t == 'x' for t in tokens], dtype=float)
    return list(np.cumsum(xs) / np.arange(1, len(tokens) + 1))
"""
PLAIN_FRAC = """
def f(tokens):
    out, seen = [], 0
    for i, t in enumerate(tokens, 1):
        seen += t == 'x'
        out.append(seen / i)
    return out
"""


def test_a_blocked_import_is_a_tool_error_naming_the_allowed_modules(load):
    res = submitted(load("frac_prevs"), NUMPY_FRAC)
    assert res.is_error
    assert res.text.startswith("error: the prediction was not recorded: your f was run on 6 inputs (lengths 1 to 6) and "
                               "blocked import: numpy (allowed modules: math, cmath, itertools")
    assert res.text.endswith("Fix the implementation and call submit_prediction again.")
    assert submitted(load("frac_prevs"), PLAIN_FRAC).text == "prediction recorded: x (confidence 0.5)"


@pytest.mark.parametrize("task,impl,words", [
    ("palindrome_check", "def f(t):\n    return [int(t == t[::-1])] * len(t)\n",
     ("1 is not a possible output", "one of False, True per position, or None")),
    ("length", "def f(t):\n    return [str(len(t))] * len(t)\n", ("'1' is not a possible output", "one of 0, 1, 2")),
    ("frac_prevs", "def f(t):\n    return ['x'] * len(t)\n", ("'x' is not a possible output", "a number (int or float)")),
    ("reverse", "def f(t):\n    return t[:-1]\n", ("outputs for", "tokens")),
    ("reverse", "def f(t):\n    return [t[5]] * len(t)\n", ("f raised IndexError",)),
    ("reverse", "def g(t):\n    return t\n", ("must define a top-level function f",)),
])
def test_unusable_outputs_are_tool_errors(load, task, impl, words):
    res = submitted(load(task), impl)
    assert res.is_error, res.text
    for w in words:
        assert w in res.text, res.text


def test_a_well_formed_wrong_answer_is_recorded(load):
    # the check knows the output vocabulary only: it never tells f's mistakes on the model's outputs
    res = submitted(load("sort"), "def f(t):\n    return list(t)\n")
    assert not res.is_error and res.text.startswith("prediction recorded")
    assert not submitted(load("palindrome_check"), "def f(t):\n    return [True] * len(t)\n").is_error


def test_the_inputs_tried_follow_the_seed_and_include_both_edge_lengths(load):
    subject = load("reverse")
    a, b = check_inputs_for(subject, 0), check_inputs_for(subject, 1)
    assert a == check_inputs_for(subject, 0) and a != b
    for inputs in (a, b):
        assert {len(inputs[0]), len(inputs[1])} == {1, subject.max_seq_len}
        assert all(t in subject.vocab for x in inputs for t in x)


def test_in_an_episode_a_failed_check_counts_as_a_call_and_the_fix_is_recorded(load, tmp_path):
    bad = submit("import numpy\ndef f(t):\n    return t\n", "reverse")
    good = submit("def f(t):\n    return list(reversed(t))\n", "reverse")
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[{"id": "s1", "name": "submit_prediction", "args": bad}]),
        AIMessage(content="", tool_calls=[{"id": "s2", "name": "submit_prediction", "args": good}]),
    ], seen=[])
    path = tmp_path / "t.jsonl"
    result = run_episode(load("reverse"), Backend("scripted", model), transcript_path=path, limits=Limits())
    events, _ = tr.read_transcript(path)
    results = [e for e in events if isinstance(e, tr.ToolResultEvent)]
    assert results[0].is_error and "blocked import: numpy" in results[0].text
    assert [e.implementation for e in events if isinstance(e, tr.PredictionEvent)] == [good["implementation"]]
    assert result.tool_calls == 2 and result.score.functional.correct


def test_a_forced_last_turn_records_the_prediction_unchecked(load, tmp_path):
    """The forced turn has no turn left to fix f: the prediction is recorded and scored as it is."""
    bad = submit("import numpy\ndef f(t):\n    return t\n", "reverse")
    model = ScriptedChatModel(responses=[
        AIMessage(content="", tool_calls=[{"id": "c1", "name": "run_model", "args": {"inputs": [["a"]]}}]),
        AIMessage(content="", tool_calls=[{"id": "s1", "name": "submit_prediction", "args": bad}]),
    ], seen=[])
    path = tmp_path / "t.jsonl"
    result = run_episode(load("reverse"), Backend("scripted", model), transcript_path=path,
                         limits=Limits(max_tool_calls=1))
    assert result.status == "prediction" and result.prediction["implementation"] == bad["implementation"]
    assert "blocked import: numpy" in result.score.functional.error
