"""One full episode through a real OpenAI-compatible server (llama-cpp-python) on 127.0.0.1.

The small local model makes well-formed tool calls but reasons poorly: this
asserts the plumbing (the episode completes within its limits, tool calls are
executed and recorded, it ends in a prediction or a clean "no prediction"),
not accuracy. Run it alone with `python -m pytest -m llm_server`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tracr_agent.agent.records import transcript as tr
from llm_server import make_llama_server_fixture

pytestmark = pytest.mark.llm_server

llama_base_url = make_llama_server_fixture()


SECRET = "sk-test-secret-do-not-record-7731"


def test_episode_through_openai_compatible_server(llama_base_url, tmp_path):
    import os

    path = tmp_path / "episode.jsonl"
    env = {**os.environ, "OPENAI_COMPATIBLE_API_KEY": SECRET, "OPENAI_API_KEY": SECRET}
    proc = subprocess.run(
        [sys.executable, "-m", "tracr_agent.agent.cli.main", "run", "reverse", "--llm", f"openai-compatible:qwen@{llama_base_url}",
         "--compat", "llama-cpp", "--condition", "blackbox", "--max-tool-calls", "3", "--max-llm-turns", "5",
         "--cap", "300", "--quiet", "--transcript", str(path)],
        capture_output=True, text=True, timeout=900, env=env)
    llama_base_url.raise_if_dead()  # a crashed server shows its signal and log, not "Connection error"
    assert "Traceback" not in proc.stderr, proc.stderr
    events, problem = tr.read_transcript(path)
    assert problem is None
    end = events[-1]
    assert isinstance(end, tr.EndEvent), proc.stdout + proc.stderr
    assert end.status in ("prediction", "no_prediction"), (end, proc.stdout, proc.stderr)
    responses = [e for e in events if isinstance(e, tr.LLMResponse)]
    calls = [e for e in events if isinstance(e, tr.ToolCallEvent)]
    results = [e for e in events if isinstance(e, tr.ToolResultEvent)]
    assert responses and all(r.latency_ms > 0 for r in responses)
    assert sum(r.usage.input_tokens for r in responses) > 0  # the server reported usage
    assert calls, "the model made no tool call"
    assert len(results) == len(calls)
    assert end.llm_turns <= 5
    executed = [r for r in results if not r.text.startswith("error: the limit")]
    assert executed
    assert any(isinstance(e, tr.ScoreEvent) for e in events)
    assert proc.returncode == 0
    # API keys never reach a file or the terminal
    assert SECRET not in path.read_text() and SECRET not in proc.stdout + proc.stderr
