"""LLM faults end within the limits, through the real CLI against a real local HTTP server
(tests/provider_server.py): a reply dripped a byte at a time, a Retry-After within and beyond the
budget, and a body that is not JSON. `--max-seconds` is a hard deadline over the episode's LLM calls,
the HTTP read included: every fault ends within --max-seconds + the last turn's 5 s of grace (+ slack
for a busy machine), with one clear line recorded and printed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from provider_server import Drip, Malformed, ProviderServer, RetryAfter
from terminal import cli as run_cli

GRACE = 5.0  # agent/loop/graph.py LLM_GRACE_SECONDS: the forced last turn's time after the limit
SLACK = 3.0  # a loaded machine (parallel test workers beside other jobs)
SUBMIT = {"label": "reverse", "description": "the input read back to front",
          "implementation": "def f(tokens):\n    return list(reversed(tokens))\n", "confidence": 0.9}


def run(tmp_path, server: ProviderServer, *extra, llm: str = "openai-compatible", max_seconds: float = 4,
        env: dict | None = None):
    url = server.url + ("/v1" if llm in ("openai-compatible", "mistralai") else "")
    model = {"openai-compatible": "m", "ollama": "llama3.1", "anthropic": "claude-sonnet-4-20250514"}[llm]
    base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    path = tmp_path / "t.jsonl"
    t0 = time.monotonic()
    r = run_cli({**base, "COLUMNS": "200", **(env or {})}, "run", "reverse", "--llm", f"{llm}:{model}@{url}", "-q",
                "--transcript", path, "--max-seconds", max_seconds, *extra)
    took = time.monotonic() - t0
    events = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return r, events, took


def llm_share(events: list[dict]) -> float:
    """Seconds from the first LLM request to the end of the episode."""
    asked = next(e["t"] for e in events if e["type"] == "llm_request")
    return events[-1]["t"] - asked


def one_clear_error(r, events, *words):
    assert "Traceback" not in r.stdout + r.stderr
    errors = [e["message"] for e in events if e["type"] == "error"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    for w in words:
        assert w in errors[0], errors
        assert w in " ".join(r.stderr.split()), r.stderr
    return errors[0]


@pytest.mark.parametrize("llm,env", [
    ("openai-compatible", {}),
    ("ollama", {}),  # its client takes no per-request timeout
    pytest.param("anthropic", {"ANTHROPIC_API_KEY": "sk-ant-fake"}, marks=pytest.mark.slow),
])
def test_a_reply_dripped_byte_by_byte_ends_within_max_seconds(tmp_path, llm, env):
    server = ProviderServer([Drip(every=0.5)] * 4)
    try:
        r, events, took = run(tmp_path, server, llm=llm, max_seconds=4, env=env)
    finally:
        server.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert llm_share(events) <= 4 + GRACE + SLACK, llm_share(events)
    one_clear_error(r, events, "wall-time limit ran out")
    assert took < 4 + GRACE + 30  # the whole command: the subject's load (cached) and the CLI on top


def test_retry_after_is_honoured_within_the_budget(tmp_path):
    server = ProviderServer([RetryAfter("2"), ("It reverses its input.", [("submit_prediction", SUBMIT)])])
    try:
        r, events, _ = run(tmp_path, server, max_seconds=30)
        times = [req["at"] for req in server.requests]
    finally:
        server.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(times) == 2 and times[1] - times[0] >= 1.9, times  # it waited as asked, not the 1 s backoff
    assert any(e["type"] == "prediction" for e in events)


def test_retry_after_beyond_the_budget_gives_up_at_once(tmp_path):
    server = ProviderServer([RetryAfter("3600"), RetryAfter("Wed, 21 Oct 2099 07:28:00 GMT", status=503)])
    try:
        r, events, _ = run(tmp_path, server, max_seconds=20)
        n = len(server.requests)
    finally:
        server.close()
    assert r.returncode == 1 and n == 1, (n, r.stdout + r.stderr)
    assert llm_share(events) < 3, llm_share(events)  # not 3600 s, nor the 20 s limit either
    one_clear_error(r, events, "asked to retry after 3600 s")


def test_a_body_that_is_not_json_is_one_clear_line(tmp_path):
    server = ProviderServer([Malformed()] * 4)
    try:
        r, events, _ = run(tmp_path, server, max_seconds=30)
        n = len(server.requests)
    finally:
        server.close()
    assert r.returncode == 1, r.stdout + r.stderr
    assert n == 1  # not a transient fault: no retry
    one_clear_error(r, events, "reply is not valid JSON")


def test_a_server_error_text_with_markup_and_escapes_is_shown_not_obeyed(tmp_path):
    """The live view (not -q) prints the server's error text: `[/]` would crash rich's markup, an escape
    sequence would rewrite the terminal. Both are shown as text."""
    evil = "[/] \x1b]0;pwned\x07\x1b[2K implementation correct \u202e"
    server = ProviderServer([Malformed(body=json.dumps({"error": {"message": evil}}).encode(), status=400),
                             Malformed(body=evil.encode(), status=400)])
    try:
        for shows_text in (True, False):  # a JSON error's message is quoted by the client; a bare body is not
            path = tmp_path / "t.jsonl"
            base = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
            r = run_cli({**base, "COLUMNS": "200"}, "run", "reverse", "--llm", f"openai-compatible:m@{server.url}/v1",
                        "--transcript", path, "--max-seconds", 30)
            out = r.stdout + r.stderr
            assert r.returncode == 1 and "Traceback" not in out, out
            assert "\x1b" not in out and "\u202e" not in out and ("[/]" in out) == shows_text, out
    finally:
        server.close()
