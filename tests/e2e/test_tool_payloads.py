"""Tool calls and tool schemas as the providers see them, through the real CLI and the real clients
against the fake servers (tests/provider_server.py): arguments that are valid JSON but not an object
are a tool error the model can fix, never an episode crash; every tool schema a request carries
follows the provider's rules (tests/schema_rules.py), every array with a typed `items`."""

from __future__ import annotations

import json
import os

import pytest

from provider_server import ProviderServer
from schema_rules import anthropic_problems, gemini_view, google_problems, openai_problems
from terminal import cli as run_cli
from tracr_agent.tools.suite.base import REGISTRY, load_all

SUBMIT = {"label": "reverse", "description": "the input read back to front",
          "implementation": "def f(tokens):\n    return list(reversed(tokens))\n", "confidence": 0.9}


def cli(*args, env: dict):
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return run_cli({**base, "COLUMNS": "200", **env}, *args)


def events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("arguments,kind", [("[1, 2]", "an array"), ('"abc"', "a string"), ("3", "a number")])
def test_non_object_arguments_are_a_tool_error_and_the_episode_goes_on(tmp_path, arguments, kind):
    server = ProviderServer([("Trying.", [("run_model", arguments)]),
                             ("Fixed.", [("run_model", {"inputs": [["a", "b"]]})]),
                             ("Done.", [("submit_prediction", SUBMIT)])])
    t = tmp_path / "t.jsonl"
    try:
        r = cli("run", "reverse", "--llm", f"openai-compatible:m@{server.url}/v1", "-q", "--transcript", t,
                "--max-seconds", "120", env={})
    finally:
        server.close()
    assert r.returncode == 0, r.stdout + r.stderr
    ev = events(t)
    assert not [e for e in ev if e["type"] == "error"]
    first = next(e for e in ev if e["type"] == "tool_result")
    assert first["is_error"] and first["origin"] == "invalid_call"
    assert first["text"] == (f"error: the arguments of your 'run_model' call are valid JSON but not an object ({kind}); "
                             "send a JSON object matching the tool's schema")
    # the model read that error as the answer to its call, under the call's id
    sent = server.requests[1]["body"]["messages"]
    call_id = sent[-2]["tool_calls"][0]["id"]
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == call_id
    assert sent[-1]["content"].startswith(first["text"] + "\n\n[budget left: 40 of 40 tool calls")  # not a call
    end = next(e for e in ev if e["type"] == "end")
    assert end["status"] == "prediction"


def test_every_array_in_every_tool_schema_has_a_typed_items():
    load_all()
    for name, spec in REGISTRY.items():
        schema = spec.args.model_json_schema()
        assert google_problems(name, gemini_view(schema)) == [], name
        # and the check catches what Gemini refuses
        assert google_problems("x", {"type": "object", "properties": {"a": {"type": "array", "items": {}}}})


@pytest.mark.parametrize("provider,model,key,path", [
    ("openai-compatible", "m", {}, "/v1/chat/completions"),
    ("anthropic", "claude-sonnet-4-20250514", {"ANTHROPIC_API_KEY": "sk-ant-fake"}, "/v1/messages"),
    pytest.param("mistralai", "mistral-small-latest", {"MISTRAL_API_KEY": "sk-fake"}, "/v1/chat/completions",
                 marks=pytest.mark.slow),
    ("google_genai", "gemini-2.5-flash", {"GOOGLE_API_KEY": "fake"}, "/v1beta/models/gemini-2.5-flash:generateContent"),
])
def test_each_provider_request_carries_tool_schemas_its_api_accepts(tmp_path, provider, model, key, path):
    server = ProviderServer([("Done.", [("submit_prediction", SUBMIT)])])
    t = tmp_path / "t.jsonl"
    url = server.url + ("/v1" if provider in ("mistralai", "openai-compatible") else "")
    try:
        r = cli("run", "reverse", "--llm", f"{provider}:{model}@{url}", "-q", "--transcript", t, "-c", "full",
                "--max-seconds", "120", env=key)
    finally:
        server.close()
    assert r.returncode == 0, r.stdout + r.stderr
    body = server.requests[0]["body"]
    assert server.requests[0]["path"].split("?")[0].endswith(path.rpartition("/")[2])
    if provider == "google_genai":  # Gemini's function declarations, as its client sent them
        declarations = [d for tool in body["tools"] for d in tool["functionDeclarations"]]
        assert {"run_model", "attention_pattern", "ablate", "submit_prediction"} <= {d["name"] for d in declarations}
        assert [p for d in declarations if "parameters" in d for p in google_problems(d["name"], d["parameters"])] == []
        assert google_problems("x", {"type": "OBJECT", "properties": {"a": {"type": "ARRAY", "items": {}}}})
        return
    names = {(tool.get("function") or tool)["name"] for tool in body["tools"]}
    assert {"run_model", "attention_pattern", "ablate", "submit_prediction"} <= names
    problems = anthropic_problems(body) if provider == "anthropic" else openai_problems(body)
    assert problems == []
    schemas = [tool["input_schema"] if provider == "anthropic" else tool["function"]["parameters"] for tool in body["tools"]]
    for tool, schema in zip(body["tools"], schemas):
        assert google_problems((tool.get("function") or tool)["name"], gemini_view(schema)) == []
    # the rules do catch a schema the API refuses
    assert openai_problems({"tools": [{"type": "function", "function": {
        "name": "x", "parameters": {"type": "object", "properties": {"a": {"type": "array"}}}}}]})
