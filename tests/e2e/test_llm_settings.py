"""How an LLM run samples, caches and counts cost, through the real CLI and the real clients against the
fake servers (tests/provider_server.py): `--temperature` sent and recorded (else the provider's default,
recorded as sent), the reported model snapshot, Anthropic's cache markers, cached tokens priced as cached,
an openai-compatible model's unknown cost until `--price` gives one (then `--max-cost` binds), bad values
as one line."""

from __future__ import annotations

import json
import os

import pytest

from provider_server import MODEL_SNAPSHOT, ProviderServer
from terminal import cli as run_cli
from tracr_agent.agent.backends.pricing import PROVIDER_PRICES, Price, TokenUsage, price_of

SUBMIT = {"label": "reverse", "description": "the input read back to front",
          "implementation": "def f(tokens):\n    return list(reversed(tokens))\n", "confidence": 0.9}
PROBES = [("Probing.", [("run_model", {"inputs": [["a", "b", "c"]]})]),
          ("More.", [("model_info", {})]),
          ("Done.", [("submit_prediction", SUBMIT)])]
ANTHROPIC = {"ANTHROPIC_API_KEY": "sk-ant-fake"}


def cli(*args, env: dict):
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return run_cli({**base, "COLUMNS": "200", **env}, *args)


def events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def episode(tmp_path, spec_of, script, *options, env=None, measured=False):
    server = ProviderServer(script, measured=measured)
    t = tmp_path / "t.jsonl"
    try:
        r = cli("run", "reverse", "--llm", spec_of(server.url), "-q", "--transcript", t, "--max-seconds", "120",
                *options, env=env or {})
    finally:
        server.close()
    assert "Traceback" not in r.stdout + r.stderr
    return r, (events(t) if t.exists() else []), server.requests


def compatible(url):
    return f"openai-compatible:m@{url}/v1"


def anthropic(url):
    return f"anthropic:claude-sonnet-4-20250514@{url}"


def test_temperature_is_sent_and_recorded_and_unset_is_the_providers_default(tmp_path):
    r, ev, reqs = episode(tmp_path, compatible, PROBES[2:], "--temperature", "0.3")
    assert r.returncode == 0, r.stderr
    assert reqs[0]["body"]["temperature"] == 0.3 and ev[0]["temperature"] == 0.3
    r, ev, reqs = episode(tmp_path, anthropic, PROBES[2:], env=ANTHROPIC)
    assert r.returncode == 0, r.stderr
    assert "temperature" not in reqs[0]["body"] and "temperature" not in ev[0]  # the provider's own default
    assert ev[0]["max_output_tokens"] == reqs[0]["body"]["max_tokens"] == 8192
    responses = [e for e in ev if e["type"] == "llm_response"]
    assert responses[0]["model"] == MODEL_SNAPSHOT and ev[-1]["model"] == MODEL_SNAPSHOT


def test_bad_sampling_and_price_options_are_one_line(tmp_path):
    for options, words in ((("--temperature", "-1"), "--temperature must be a number from 0 to 2"),
                           (("--price", "1"), "--price must be IN,OUT or IN,OUT,CACHED"),
                           (("--price", "1,x"), "--price must be IN,OUT or IN,OUT,CACHED"),
                           (("--trim-tool-outputs", "0"), "--trim-tool-outputs must be at least 1")):
        r = cli("run", "reverse", "--llm", "baseline", "-q", "--out", tmp_path, *options, env={})
        assert r.returncode == 2 and r.stderr.strip().startswith(f"error: {words}"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = cli("run", "reverse", "--llm", "openai:o4-mini", "-q", "--out", tmp_path, "--temperature", "0.5",
            env={"OPENAI_API_KEY": "sk-fake"})
    assert r.returncode == 2 and "o4-mini is a reasoning model, which takes no temperature" in r.stderr


def test_anthropic_requests_carry_cache_markers_and_cached_tokens_are_priced_as_cached(tmp_path):
    r, ev, reqs = episode(tmp_path, anthropic, PROBES, env=ANTHROPIC, measured=True)
    assert r.returncode == 0, r.stderr
    for q in reqs:
        body = q["body"]
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        last = body["messages"][-1]["content"]
        assert isinstance(last, list) and last[-1].get("cache_control") == {"type": "ephemeral"}, last
    responses = [e for e in ev if e["type"] == "llm_response"]
    assert responses[0]["usage"]["cache_read_tokens"] == 0 and responses[0]["usage"]["cache_write_tokens"] > 0
    assert responses[1]["usage"]["cache_read_tokens"] > 0 and responses[2]["usage"]["cache_read_tokens"] > 0
    price = price_of(PROVIDER_PRICES["anthropic"], "claude-sonnet-4-20250514")
    assert price.cached_input < price.input < price.cache_write
    for e in responses:
        u = e["usage"]
        usage = TokenUsage(u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"])
        assert e["cost"] == pytest.approx(price.cost(usage))
        assert e["cost"] < Price(price.input, price.output).cost(usage) or not u["cache_read_tokens"]


def test_an_unpriced_model_has_an_unknown_cost_until_price_gives_one(tmp_path):
    r, ev, _ = episode(tmp_path, compatible, PROBES, measured=True)
    assert r.returncode == 0, r.stderr
    assert "no price known for openai-compatible:m@" in r.stderr and "--price" in r.stderr
    assert all("cost" not in e for e in ev if e["type"] == "llm_response")  # unknown, not $0
    assert ev[-1]["cost_unknown"] is True and ev[-1]["cost"] == 0
    # OpenAI's automatic caching: the repeated prefix comes back as cached tokens, priced as cached
    r, ev, _ = episode(tmp_path, compatible, PROBES, "--price", "2,8,0.5", measured=True)
    assert r.returncode == 0, r.stderr
    assert "no price known" not in r.stderr and ev[0]["price"] == [2.0, 8.0, 0.5]
    responses = [e for e in ev if e["type"] == "llm_response"]
    assert responses[-1]["usage"]["cache_read_tokens"] >= 1024
    for e in responses:
        u = e["usage"]
        assert e["cost"] == pytest.approx(Price(2, 8, 0.5).cost(TokenUsage(u["input_tokens"], u["output_tokens"],
                                                                          u["cache_read_tokens"])))
    assert ev[-1]["cost_unknown"] is False and ev[-1]["cost"] == pytest.approx(sum(e["cost"] for e in responses))


def test_with_a_price_max_cost_binds(tmp_path):
    r, ev, _ = episode(tmp_path, compatible, PROBES[:1] + PROBES[2:], "--price", "1000,1000", "--max-cost", "0.5",
                       measured=True)
    assert r.returncode == 0, r.stderr
    assert [e["limit"] for e in ev if e["type"] == "limit"] == ["cost (USD)"]
    assert ev[-1]["forced"] is True and ev[-1]["limit"] == "cost (USD)"
    assert "limit reached: cost (USD); the prediction was made in the forced last turn" in r.stdout
