"""The label and description judge through real provider clients (`--judge-llm SPEC`, the same specs as
`--llm`), answered by a scripted local HTTP server (tests/provider_server.py): what it is asked, how its
verdicts and reasons are recorded, and the CLI's eval and rescore with a judge."""

from __future__ import annotations

import json
import os

import pytest

from provider_server import ProviderServer
from terminal import cli
from tracr_agent.agent.scoring.judge import judge_prediction, make_judge
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects.tasks import get_task

REPLY = "The label names a reversal; the description sorts instead.\nLABEL: yes\nDESCRIPTION: no"


def asked(request: dict) -> str:
    """The text of every message of one recorded request (OpenAI's and Anthropic's shapes)."""
    body = request["body"]
    parts = [body.get("system") or ""]
    for m in body["messages"]:
        content = m["content"]
        parts += [content] if isinstance(content, str) else [c.get("text", "") for c in content]
    return "\n".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


@pytest.mark.parametrize("provider,model,key,path", [
    ("openai-compatible", "judge-model", {}, "/v1/chat/completions"),
    ("anthropic", "claude-3-5-haiku-20241022", {"ANTHROPIC_API_KEY": "sk-ant-fake"}, "/v1/messages"),
])
def test_a_provider_judges_label_and_description_in_one_request(monkeypatch, provider, model, key, path):
    for k, v in key.items():
        monkeypatch.setenv(k, v)
    server = ProviderServer([503, (REPLY, [])])  # one transient failure, retried like the agent's calls
    try:
        url = server.url + ("/v1" if provider == "openai-compatible" else "")
        judge = make_judge(f"{provider}:{model}@{url}")
        j = judge_prediction("tokens in opposite order", "sorts the tokens ascending", get_task("reverse"), judge)
    finally:
        server.close()
    assert [r["path"].split("?")[0] for r in server.requests] == [path, path]
    assert (j.label_correct, j.correct, j.error) == (True, False, None)
    assert j.model == model and j.rationale == "The label names a reversal; the description sorts instead."
    text = asked(server.requests[-1])
    assert "Candidate label: tokens in opposite order" in text and "sorts the tokens ascending" in text
    assert get_task("reverse").description in text and "known as: Reverse" in text
    assert "LABEL: yes or LABEL: no" in text


def test_a_generated_program_is_judged_without_a_name():
    server = ProviderServer([("Both describe the map.\nLABEL: yes\nDESCRIPTION: yes", [])])
    try:
        task = get_task("gen-3-1-0")
        j = judge_prediction("scaled clipped token", "max(token, 2) / 8", task,
                             make_judge(f"openai-compatible:m@{server.url}/v1"))
    finally:
        server.close()
    assert j.correct and j.label_correct
    text = asked(server.requests[0])
    assert "no conventional name" in text and "gen-3-1-0" not in text and task.description in text


@pytest.mark.parametrize("spec", ["baseline", "decompiler", "replay:t.jsonl", "baseline-closed"])
def test_a_spec_that_is_no_chat_model_is_one_clear_error(spec):
    with pytest.raises(UserError, match="is not a chat model"):
        make_judge(spec)


def test_eval_and_rescore_record_the_judges_verdicts_and_reason(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    out = tmp_path / "ev"
    server = ProviderServer([("Reads the input backwards; fine.\nLABEL: yes\nDESCRIPTION: yes", []),
                             ("On second thought the description is vague.\nLABEL: yes\nDESCRIPTION: no", [])])
    try:
        spec = f"openai-compatible:judge-m@{server.url}/v1"
        r = cli(env, "eval", "--tasks", "reverse", "--conditions", "full", "--llm", "baseline", "--out", out,
                "--judge-llm", spec)
        assert r.returncode == 0, r.stdout + r.stderr
        rec = json.loads((out / "results.jsonl").read_text().splitlines()[0])
        judge = rec["score"]["judge"]
        assert (judge["correct"], judge["label_correct"], judge["model"]) == (True, True, "judge-m")
        assert judge["rationale"] == "Reads the input backwards; fine."
        r = cli(env, "rescore", out, "--judge-llm", spec)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        server.close()
    again = json.loads((out / "results.jsonl").read_text().splitlines()[0])["score"]["judge"]
    assert again["correct"] is False and again["rationale"] == "On second thought the description is vague."
    assert len(server.requests) == 2
    r = cli(env, "rescore", out, "--judge-llm", "baseline")
    assert r.returncode == 2 and "is not a chat model" in r.stderr and "Traceback" not in r.stdout + r.stderr
