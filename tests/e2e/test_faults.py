"""Faults found by hostile input (issue 13 item 4), each through the real CLI: bad numeric options,
deeply nested tool JSON, a torn results line on `eval --resume`, and an LLM server that replies
with an empty `choices` list or too slowly (a fake OpenAI-compatible server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation.batch import read_results
from tracr_agent.tools.suite.base import call_tool

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, list(args))


def one_line_error(r, *words):
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    for w in words:
        assert w in lines[0], r.output


@pytest.mark.parametrize("option,value,words", [
    ("--max-tool-calls", "-1", ("--max-tool-calls", "positive integer")),
    ("--max-llm-turns", "0", ("--max-llm-turns", "positive integer")),
    ("--max-tokens", "-5", ("--max-tokens", "positive integer")),
    ("--max-seconds", "nan", ("--max-seconds", "finite")),
    ("--max-seconds", "inf", ("--max-seconds", "finite")),
    ("--max-seconds", "-1", ("--max-seconds", "positive")),
    ("--max-cost", "nan", ("--max-cost", "finite")),
    ("--cap", "-5", ("--cap", "at least 200")),
])
def test_run_refuses_bad_limits(tmp_path, option, value, words):
    r = cli("run", "sort", "--llm", "baseline", "-q", "--out", str(tmp_path), option, value)
    one_line_error(r, *words)
    assert not list(tmp_path.iterdir())  # refused before anything ran or was written


def test_eval_lab_and_tool_refuse_bad_limits(tmp_path):
    out = tmp_path / "ev"
    one_line_error(cli("eval", "--tasks", "sort", "--llm", "baseline", "--out", str(out), "--max-seconds", "nan"),
                   "--max-seconds")
    one_line_error(cli("eval", "--tasks", "sort", "--llm", "baseline", "--out", str(out), "--max-tool-calls", "-1"),
                   "--max-tool-calls")
    assert not out.exists()
    one_line_error(cli("lab", "sort", "--cap", "5"), "--cap")
    one_line_error(cli("tool", "sort", "model_info", "--cap", "0"), "--cap")


def test_deeply_nested_tool_json_is_a_clear_error():
    deep = '{"inputs": ' + "[" * 60_000 + "]" * 60_000 + "}"
    r = cli("tool", "sort", "run_model", deep)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.output.startswith("error:") and "nested deeper than" in r.output
    # call_tool itself never raises, whatever it is handed
    assert call_tool(None, "run_model", deep).is_error
    res = call_tool(None, ["not", "a", "name"], "{}")
    assert res.is_error and res.text.startswith("error:")


def test_resume_sets_a_torn_last_line_aside(tmp_path):
    out = tmp_path / "ev"
    args = ("eval", "--tasks", "reverse,sort", "--llm", "baseline", "--out", str(out))
    assert cli(*args).exit_code == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    assert len(lines) == 2
    torn = lines[1][: len(lines[1]) // 2]
    results.write_text(lines[0] + torn)  # the last record cut in half, no newline
    r = cli(*args, "--resume")
    assert r.exit_code == 0, r.output
    assert "torn line" in r.output
    aside = list(out.glob("results.jsonl.torn-*"))
    assert len(aside) == 1 and aside[0].read_text() == torn
    text = results.read_text()
    assert text.endswith("\n") and all(json.loads(ln) for ln in text.splitlines())
    assert sorted(rec.task for rec in read_results(out)) == ["reverse", "sort"]
    # a whole file is left alone
    assert "torn line" not in cli(*args, "--resume").output


class FakeLLM(ThreadingHTTPServer):
    """An OpenAI-compatible server that replies `{"choices": []}` or sleeps `delay` seconds first."""

    def __init__(self, mode: str, delay: float = 0.0):
        self.mode, self.delay, self.requests = mode, delay, 0
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def close(self):
        self.stop.set()
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        server: FakeLLM = self.server
        self.rfile.read(int(self.headers.get("content-length") or 0))
        server.requests += 1
        if server.stop.wait(server.delay):
            return
        body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}}).encode()
        try:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass


@pytest.fixture
def fake_llm():
    """Starts FakeLLM servers (`fake_llm(mode, delay)`), all shut down after the test."""
    servers = []

    def start(mode: str = "empty", delay: float = 0.0) -> FakeLLM:
        servers.append(FakeLLM(mode, delay))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def transcript_events(path):
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


@pytest.fixture
def quick_retries(monkeypatch):
    """Retries as the product makes them, without waiting out the 1 + 2 + 4 s of backoff: the tests
    that use it count attempts and recorded errors, not seconds."""
    from tracr_agent.agent.backends import reply

    monkeypatch.setattr(reply, "BACKOFF_S", 0.01)


def test_empty_choices_is_one_recorded_error_after_retries(tmp_path, fake_llm, quick_retries):
    server = fake_llm("empty")
    path = tmp_path / "t.jsonl"
    r = cli("run", "sort", "--llm", f"openai-compatible:m@{server.url}", "-q", "--transcript", str(path),
            "--max-seconds", "60")
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and "IndexError" not in r.output
    assert "empty `choices` list" in r.output
    assert server.requests == 4  # the first try and 3 retries, like a 5xx
    errors = [e for e in transcript_events(path) if e.get("type") == "error"]
    assert len(errors) == 1 and "empty `choices` list" in errors[0]["message"]


@pytest.mark.parametrize("condition", ["full", "static"])
def test_slow_server_never_outlives_max_seconds(tmp_path, fake_llm, condition):
    server = fake_llm("empty", delay=300)
    path = tmp_path / "t.jsonl"
    t0 = time.monotonic()
    r = cli("run", "sort", "--llm", f"openai-compatible:m@{server.url}", "-q", "--transcript", str(path),
            "--max-seconds", "3", "--condition", condition)
    took = time.monotonic() - t0
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    events = transcript_events(path)
    asked = next(e["t"] for e in events if e["type"] == "llm_request")
    # The LLM's share ends within the 3 s limit + the 5 s grace of a last turn (+ slack), counted
    # from the episode's start; the static dump may itself take longer under load, then no attempt
    # is made at all. Never the 486 s of 4 attempts x 120 s.
    assert events[-1]["t"] < max(asked, 3) + 5 + 3, (asked, events[-1]["t"])
    if condition == "full":  # loading the subject (cached) and the CLI on top
        assert took < 20, took
    errors = [e for e in events if e.get("type") == "error"]
    assert len(errors) == 1 and "LLM call failed" in errors[0]["message"]


def test_only_an_empty_choices_list_counts_as_an_empty_reply():
    # An IndexError from anywhere but langchain's generations[0][0] is a bug to surface, not a
    # reply to retry.
    from tracr_agent.agent.backends.llm import Backend
    from tracr_agent.agent.backends.reply import invoke_within

    class Buggy:
        calls = 0

        def invoke(self, messages, timeout=None):
            Buggy.calls += 1
            return [][0]

    backend = Backend("fake", Buggy(), timeout=5, max_retries=3)
    with pytest.raises(IndexError, match="list index out of range"):
        invoke_within(backend, backend.chat_model, [])
    assert Buggy.calls == 1


def test_judge_llm_retries_like_the_agent_and_records_one_error(tmp_path, fake_llm, quick_retries):
    server = fake_llm("empty")
    out = tmp_path / "ev"
    r = cli("eval", "--tasks", "reverse", "--llm", "baseline", "--out", str(out),
            "--judge-llm", f"openai-compatible:m@{server.url}")
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert server.requests == 4  # the first try and 3 retries, like the agent's calls
    judge = read_results(out)[0].score.judge
    assert judge.correct is False and "empty `choices` list" in judge.error, judge
    assert "gave up after 4 attempts" in judge.error


def test_a_slow_judge_stays_within_its_wall_budget(fake_llm):
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.scoring.score import judge_description
    from tracr_agent.tools.subjects.tasks import get_task

    server = fake_llm("empty", delay=300)
    judge = make_backend(f"openai-compatible:m@{server.url}", timeout=2)
    t0 = time.monotonic()
    j = judge_description("reverses the tokens", get_task("reverse"), judge)
    took = time.monotonic() - t0
    assert took < 2 + 3, took  # one request timeout of wall time, plus slack for the client
    assert j.correct is False and j.error.startswith("judge call failed"), j
