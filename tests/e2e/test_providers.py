"""`--llm PROVIDER:MODEL` through LangChain's init_chat_model: the real provider clients, pointed at a
scripted local server (tests/provider_server.py), run whole episodes through the real CLI with the same
retries, token accounting and cost as openai:; a missing extra or key is one line, exit 2."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from provider_server import ProviderServer
from terminal import cli as run_cli
from tracr_agent.agent.backends.llm import PROVIDERS
from tracr_agent.agent.backends.pricing import FREE, PROVIDER_PRICES, TokenUsage, price_of
from tracr_agent.agent.investigators.registry import make_backend
from tracr_agent.tools.errors import UserError

PROBE = [["a", "b", "c"], ["d", "a"], ["b", "b", "c", "a"]]
SUBMIT = {"label": "reverse", "description": "the input read back to front",
          "implementation": "def f(tokens):\n    return list(reversed(tokens))\n", "confidence": 0.9}
SCRIPT = [503, ("Probing with a few inputs.", [("run_model", {"inputs": PROBE})]),
          ("It reverses its input.", [("submit_prediction", SUBMIT)])]


def cli(*args, env: dict):
    """The real CLI (in this process: no terminal or signal is tested here), with no API key but the
    ones `env` gives."""
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return run_cli({**base, "COLUMNS": "200", **env}, *args)


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# Each provider's episode takes a few seconds: the fast tier keeps one (anthropic), the full suite all three.
@pytest.mark.parametrize("provider,model,key,path", [
    ("anthropic", "claude-sonnet-4-20250514", {"ANTHROPIC_API_KEY": "sk-ant-fake"}, "/v1/messages"),
    pytest.param("ollama", "llama3.1", {}, "/api/chat", marks=pytest.mark.slow),
    pytest.param("mistralai", "mistral-small-latest", {"MISTRAL_API_KEY": "sk-mistral-fake"}, "/v1/chat/completions",
                 marks=pytest.mark.slow),
])
def test_a_provider_runs_an_episode_with_retries_tokens_and_cost(tmp_path, provider, model, key, path):
    server = ProviderServer(SCRIPT)
    try:
        t = tmp_path / "t.jsonl"
        url = server.url + ("/v1" if provider == "mistralai" else "")  # mistral's endpoint names the API version
        r = cli("run", "reverse", "--llm", f"{provider}:{model}@{url}", "-q", "--transcript", t,
                "--max-seconds", "120", env=key)
    finally:
        server.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    reqs = server.requests
    assert [q["path"].split("?")[0] for q in reqs] == [path] * 3  # the 503 was retried
    tools = {t.get("name") or t.get("function", {}).get("name") for t in reqs[0]["body"]["tools"]}
    assert {"run_model", "submit_prediction"} <= tools
    if key:
        auth = {k.lower(): v for k, v in reqs[0]["headers"].items()}
        secret = next(iter(key.values()))
        assert auth.get("x-api-key") == secret or auth.get("authorization") == f"Bearer {secret}"
    ev = events(t)
    assert ev[0]["llm"] == f"{provider}:{model}@{url}"
    responses = [e for e in ev if e["type"] == "llm_response"]
    assert [(e["usage"]["input_tokens"], e["usage"]["output_tokens"]) for e in responses] == [(100, 20), (100, 20)]
    results = [e for e in ev if e["type"] == "tool_result"]
    assert results[0]["text"].startswith('["a", "b", "c"] -> ["c", "b", "a"]')  # the real subject answered
    end = next(e for e in ev if e["type"] == "end")
    assert end["status"] == "prediction" and end["tokens"] == 240
    price = FREE if PROVIDERS[provider].free else price_of(PROVIDER_PRICES[provider], model)
    assert end["cost"] == pytest.approx(2 * (100 * price.input + 20 * price.output) / 1e6)
    assert provider == "ollama" or end["cost"] > 0
    score = next(e for e in ev if e["type"] == "score")["score"]
    assert score["label"]["correct"] and score["functional"]["correct"]


def test_a_missing_key_or_extra_is_one_line_and_exit_2(tmp_path):
    r = cli("run", "reverse", "--llm", "anthropic:claude-sonnet-4", "-q", "--transcript", tmp_path / "a.jsonl", env={})
    assert r.returncode == 2 and r.stderr.strip() == "error: --llm anthropic:… needs ANTHROPIC_API_KEY in the environment"
    for kind, p in PROVIDERS.items():
        if importlib.util.find_spec(p.module) is None:  # not installed here: the message says how to install it
            r = cli("run", "reverse", "--llm", f"{kind}:some-model", "-q", "--transcript", tmp_path / "b.jsonl",
                    env={p.key_env: "x"} if p.key_env else {})
            assert r.returncode == 2, r.stderr
            assert r.stderr.strip() == f"error: --llm {kind}:… needs {p.package}: pip install 'tracr-agent[{p.extra}]'"
    r = cli("run", "reverse", "--llm", "anthropic:", "-q", env={"ANTHROPIC_API_KEY": "x"})
    assert r.returncode == 2 and "anthropic needs a model" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_prices_by_provider_and_unknown_models_have_an_unknown_cost(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    known = make_backend("anthropic:claude-3-5-haiku-20241022@http://127.0.0.1:9")
    assert known.price[:2] == (0.8, 4.0) and known.cost(TokenUsage(1_000_000, 1_000_000)) == pytest.approx(4.8)
    # a million cached input tokens cost a tenth of the input price, a million written 1.25 times it
    assert known.cost(TokenUsage(1_000_000, 0, cache_read=1_000_000)) == pytest.approx(0.08)
    assert known.cost(TokenUsage(1_000_000, 0, cache_write=1_000_000)) == pytest.approx(1.0)
    assert "no price known" not in known.announce
    unknown = make_backend("anthropic:claude-next@http://127.0.0.1:9")
    assert unknown.price is None and unknown.cost(TokenUsage(10**6, 10**6)) is None
    assert "no price known for anthropic:claude-next@http://127.0.0.1:9: its cost is unknown" in unknown.announce
    assert make_backend("ollama:qwen3@http://127.0.0.1:9").price == FREE  # local: free, and no note
    with pytest.raises(UserError, match="needs a model"):
        make_backend("ollama:@http://127.0.0.1:9")
    assert price_of(PROVIDER_PRICES["google_genai"], "gemini-2.5-flash-lite-001")[:2] == (0.1, 0.4)  # longest prefix


# ~8 s each (the limit and the last turn's grace, waited out): the fast tier keeps ollama (its client takes no
# per-request timeout), the full suite all three.
@pytest.mark.parametrize("provider,model,key", [
    pytest.param("anthropic", "claude-sonnet-4-20250514", {"ANTHROPIC_API_KEY": "sk-ant-fake"}, marks=pytest.mark.slow),
    ("ollama", "llama3.1", {}),
    pytest.param("mistralai", "mistral-small-latest", {"MISTRAL_API_KEY": "sk-mistral-fake"}, marks=pytest.mark.slow),
])
def test_a_silent_provider_never_outlives_max_seconds(tmp_path, provider, model, key):
    """Same wall-time limit as openai:, also for clients that take no per-request timeout (ollama,
    mistral): a server that sits on every request ends the episode a few seconds after --max-seconds,
    with the reason recorded, not after the client's own fixed timeout."""
    server = ProviderServer([60.0] * 8)
    try:
        t = tmp_path / "t.jsonl"
        url = server.url + ("/v1" if provider == "mistralai" else "")
        r = cli("run", "reverse", "--llm", f"{provider}:{model}@{url}", "-q", "--transcript", t,
                "--max-seconds", "2", env=key)
    finally:
        server.close()
    assert "Traceback" not in r.stdout + r.stderr
    ev = events(t)
    end = next(e for e in ev if e["type"] == "end")
    # limit + the forced last turn's grace + slack, never the 60 s reply. Counted as in test_faults from
    # the first request, as starting the CLI may take longer; the slack is for a busy machine (parallel
    # test workers beside other jobs: measured up to 1.5 s over limit + grace at a load of 10 on 2 cores).
    asked = next(e["t"] for e in ev if e["type"] == "llm_request")
    assert ev[-1]["t"] < max(asked, 2) + 5 + 8, (asked, end)
    assert end["status"] != "prediction"
    errors = [e for e in ev if e["type"] == "error"]
    assert errors and all("LLM call failed" in e["message"] for e in errors), errors


def test_any_langchain_provider_passes_through_and_a_missing_package_says_what_to_install(tmp_path):
    r = cli("run", "reverse", "--llm", "nosuchprovider:m", "-q", "--transcript", tmp_path / "x.jsonl", env={})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "unknown --llm nosuchprovider:…: not one of ours nor a provider LangChain's init_chat_model knows" in r.stderr
    assert "groq" in r.stderr and "bedrock" in r.stderr  # it names those it knows
    for kind, module, package in (("groq", "langchain_groq", "langchain-groq"),
                                  ("bedrock", "langchain_aws", "langchain-aws")):
        if importlib.util.find_spec(module) is None:  # not installed here: one line saying what to install
            r = cli("run", "reverse", "--llm", f"{kind}:some-model", "-q", "--transcript", tmp_path / "y.jsonl", env={})
            assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert f"error: --llm {kind}:… needs its LangChain package: pip install {package}" == r.stderr.strip()
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_a_passed_through_provider_runs_an_episode(tmp_path):
    """azure_openai: not one of the providers declared here, built by LangChain's init_chat_model (its client
    is langchain-openai's, installed here), pointed at the local fake with @URL: a whole episode, scored."""
    server = ProviderServer(SCRIPT[1:])
    try:
        t = tmp_path / "t.jsonl"
        r = cli("run", "reverse", "--llm", f"azure_openai:gpt-4o@{server.url}", "-q", "--transcript", t,
                "--max-seconds", "120", env={"AZURE_OPENAI_API_KEY": "az-fake", "OPENAI_API_VERSION": "2024-10-21"})
    finally:
        server.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no price known for azure_openai:gpt-4o" in r.stderr  # cost counted as $0, and said
    assert [q["path"] for q in server.requests] == ["/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"] * 2
    assert {k.lower(): v for k, v in server.requests[0]["headers"].items()}["api-key"] == "az-fake"
    ev = events(t)
    assert next(e for e in ev if e["type"] == "score")["score"]["functional"]["correct"]


def test_api_key_env_names_the_key_and_run_checks_the_endpoint_first(tmp_path):
    import http.server
    import threading
    import time

    # an unset variable, an endpoint that is not there: one line each, before anything is written
    r = cli("run", "reverse", "--llm", "openai-compatible:m@http://127.0.0.1:9/v1", "--api-key-env", "MY_VLLM_KEY",
            "-q", "--transcript", tmp_path / "a.jsonl", env={})
    assert r.returncode == 2 and r.stderr.strip() == "error: --api-key-env MY_VLLM_KEY: MY_VLLM_KEY is not set in the environment"
    t0 = time.monotonic()
    r = cli("run", "reverse", "--llm", "openai-compatible:m@http://127.0.0.1:9/v1", "-q",
            "--transcript", tmp_path / "b.jsonl", env={})
    assert r.returncode == 2 and "http://127.0.0.1:9/v1/models is unreachable" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and time.monotonic() - t0 < 10 and not list(tmp_path.iterdir())

    class Locked(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200 if self.headers.get("authorization") == "Bearer right" else 401)
            self.end_headers()

    locked = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Locked)
    threading.Thread(target=locked.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{locked.server_address[1]}/v1"
        r = cli("run", "reverse", "--llm", f"openai-compatible:m@{url}", "--api-key-env", "MY_VLLM_KEY", "-q",
                "--transcript", tmp_path / "c.jsonl", env={"MY_VLLM_KEY": "wrong"})
        assert r.returncode == 2 and f"LLM endpoint {url} refused the API key (401 on /models)" in r.stderr, r.stderr
    finally:
        locked.shutdown()
        locked.server_close()

    # the key is read from the variable named, sent to the server, and never written down
    server = ProviderServer(SCRIPT[1:])
    try:
        t = tmp_path / "d.jsonl"
        r = cli("run", "reverse", "--llm", f"openai-compatible:m@{server.url}/v1", "--api-key-env", "MY_VLLM_KEY",
                "-q", "--transcript", t, env={"MY_VLLM_KEY": "sk-vllm-secret"})
    finally:
        server.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.requests and all({k.lower(): v for k, v in q["headers"].items()}.get("authorization")
                                   == "Bearer sk-vllm-secret" for q in server.requests)
    assert events(t)[0]["api_key_env"] == "MY_VLLM_KEY" and "sk-vllm-secret" not in t.read_text()
