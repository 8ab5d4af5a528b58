"""What the agent is told (agent/loop/prompts.py) and the budget it sees, on real subjects with a scripted
chat model: every tool with its full description, only what is true in the condition, the method, the
output values and allowed modules, the budget; what is left after each step; the context limit per
request (the summed-token limit off unless given); forced submissions recorded with the limit reached;
older tool outputs trimmed from what is sent, never from the transcript."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from fakes import ScriptedChatModel
from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.loop.prompts import system_prompt
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.sandbox.worker import ALLOWED_TEXT
from tracr_agent.tools.subjects.leak import find_leaks
from tracr_agent.tools.subjects.transforms import apply_transform
from tracr_agent.tools.suite.base import REGISTRY, tool_names

GOOD = {"label": "reverse", "description": "d", "implementation": "def f(t):\n    return list(reversed(t))\n",
        "confidence": 0.9}


def ai(*calls, tokens: int = 0) -> AIMessage:
    usage = {"input_tokens": tokens, "output_tokens": 10, "total_tokens": tokens + 10} if tokens else None
    return AIMessage(content="", usage_metadata=usage,
                     tool_calls=[{"id": f"c{i}_{name}", "name": name, "args": args} for i, (name, args) in enumerate(calls)])


def run(subject, tmp_path, responses, **settings):
    model = ScriptedChatModel(responses=responses, seen=[])
    path = tmp_path / "t.jsonl"
    result = run_episode(subject, Backend("scripted", model), transcript_path=path, **settings)
    return result, tr.read_transcript(path)[0], model


@pytest.mark.parametrize("condition", ["full", "blackbox", "whitebox"])
def test_the_prompt_lists_every_tool_with_its_full_description(reverse_subject, condition):
    prompt = system_prompt(condition, reverse_subject, limits=Limits())
    for name in tool_names(condition):
        assert f"\n- {name}: {REGISTRY[name].description}\n" in prompt + "\n"
    assert find_leaks(prompt, reverse_subject.truth) == []


def test_the_prompt_describes_only_what_the_condition_shows(reverse_subject, load):
    blackbox = system_prompt("blackbox", reverse_subject)
    for internal in ("residual", "one-hot", "Attention heads", "MLP"):
        assert internal not in blackbox
    full = system_prompt("full", reverse_subject)
    assert "one-hot" in full and "neutral names (v1, v2, …)" in full
    raw = system_prompt("whitebox", reverse_subject, residual="raw")
    assert "one-hot" in raw and "unlabelled (d0, d1, …)" in raw and "neutral names" not in raw
    rotated = system_prompt("whitebox", apply_transform(reverse_subject, "rotated:3"))
    assert "not privileged" in rotated and "one-hot (one dimension per value)" not in rotated
    assert "rotat" not in rotated.lower()  # which transform it was is not said


def test_the_prompt_states_the_outputs_the_modules_the_method_and_the_budget(load):
    prompt = system_prompt("full", load("palindrome_check"), limits=Limits(max_tool_calls=12, max_cost=2))
    assert "outputs: one of False, True per position, or None where the model outputs no value" in prompt
    assert ALLOWED_TEXT in prompt
    assert "a number (int or float)" not in prompt
    assert "a number (int or float) per position" in system_prompt("full", load("frac_prevs"))
    for method in ("Keep a list of hypotheses", "confirmed or refuted", "Cover the inputs widely",
                   "Verify before submitting", "conventional name"):
        assert method in prompt
    assert ("You have at most 12 tool calls, 40 LLM turns, 128,000 tokens of context per request, 900 s of "
            "wall time and $2.00 of cost") in prompt
    assert "$" not in system_prompt("full", load("palindrome_check"), limits=Limits(), priced=False).split("## Budget")[1]
    assert "## Budget" not in system_prompt("full", load("palindrome_check"))  # no budget: not stated


def test_what_is_left_follows_each_step_and_the_transcript_keeps_the_tool_text(reverse_subject, tmp_path):
    result, events, model = run(reverse_subject, tmp_path, [
        ai(("run_model", {"inputs": [["a", "b"]]}), ("model_info", {})),
        ai(("submit_prediction", GOOD)),
    ], limits=Limits(max_tool_calls=10, max_seconds=600))
    sent = model.seen[1]
    first, last = [m for m in sent if isinstance(m, ToolMessage)]
    assert "[budget left" not in first.content  # once per step, after its last result
    assert last.content.endswith("]") and "\n\n[budget left: 8 of 10 tool calls, 39 of 40 LLM turns, context ~" in last.content
    assert " of 600 s, $5.00 of $5.00]" in last.content
    results = [e for e in events if isinstance(e, tr.ToolResultEvent)]
    assert "[budget left" not in results[1].text
    requests = [e for e in events if isinstance(e, tr.LLMRequest)]
    assert "[budget left: 8 of 10" in requests[1].messages[-1]["content"]


def test_the_context_limit_is_per_request_and_forces_a_recorded_submission(reverse_subject, tmp_path):
    result, events, _ = run(reverse_subject, tmp_path, [
        ai(("run_model", {"inputs": [["a"]]}), tokens=3000),
        ai(("run_model", {"inputs": [["b"]]}), tokens=5000),
        ai(("submit_prediction", GOOD), tokens=5200),
    ], limits=Limits(max_context_tokens=5000))
    assert result.status == "prediction" and result.forced is True and result.limit == "context (tokens)"
    end = events[-1]
    assert isinstance(end, tr.EndEvent) and end.forced is True and end.limit == "context (tokens)"
    assert [e.limit for e in events if isinstance(e, tr.LimitEvent)] == ["context (tokens)"]


def test_the_summed_token_limit_is_off_unless_given(reverse_subject, tmp_path):
    many = [ai(("run_model", {"inputs": [["a"]]}), tokens=60_000) for _ in range(8)] + [ai(("submit_prediction", GOOD))]
    result, _, _ = run(reverse_subject, tmp_path, many, limits=Limits())
    assert result.tokens > 400_000 and result.forced is False and result.limit is None
    result, _, _ = run(reverse_subject, tmp_path, many[:2] + many[-1:], limits=Limits(max_tokens=100_000))
    assert result.forced is True and result.limit == "token"


def test_old_tool_outputs_are_trimmed_from_what_is_sent_only(reverse_subject, tmp_path):
    calls = [ai(("run_model", {"inputs": [[t, "b", "c"]]})) for t in "abcd"] + [ai(("submit_prediction", GOOD))]
    result, events, model = run(reverse_subject, tmp_path, calls, trim_tool_outputs=2)
    last = [m for m in model.seen[-1] if isinstance(m, ToolMessage)]
    assert [m.content.startswith("[output of run_model left out to save context") for m in last] == \
        [True, True, False, False]
    assert model.seen[2][-1].content.startswith('["b", "b", "c"] -> ')  # two outputs: both still in full
    results = [e.text for e in events if isinstance(e, tr.ToolResultEvent)]
    assert all(t.startswith("[") and "->" in t for t in results[:4])  # the transcript keeps them whole
    assert result.score.functional.correct
