"""The documented command, `inspect eval tracr_agent/interp … --model openai/gpt-4o`, end to end: Inspect's
own OpenAI provider talks to a local server speaking OpenAI's wire format (no network, no key), our tools
answer its tool calls, and the log's score is the score our scorer gives the same prediction."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from inspect_ai.log import read_eval_log

from provider_server import ProviderServer
from tracr_agent.agent.scoring.score import score_prediction
from tracr_agent.tools.subjects.tasks import load_task

REVERSE = "def f(tokens):\n    return list(reversed(tokens))\n"
PREDICTION = {"label": "Reverse the input sequence", "description": "Position i holds token n-1-i.",
              "implementation": REVERSE, "confidence": 0.9}


@pytest.mark.slow  # a fresh process importing Inspect and TransformerLens
def test_inspect_eval_with_openai_provider(tmp_path):
    server = ProviderServer([("Looking at the model first.", [("model_info", {})]),
                             ("", [("run_model", {"inputs": [["a", "b", "c"]]})]),
                             ("Committing.", [("submit_prediction", PREDICTION)])])
    env = {**os.environ, "OPENAI_API_KEY": "sk-local-fake", "OPENAI_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1",
           "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "inspect_ai", "eval", "tracr_agent/interp", "-T", "tasks=reverse", "-T", "condition=full",
           "--model", "openai/gpt-4o", "--log-dir", str(tmp_path), "--display", "none"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    paths = [p for p in tmp_path.iterdir() if p.suffix in (".eval", ".json")]
    assert len(paths) == 1, list(tmp_path.iterdir())
    log = read_eval_log(str(paths[0]))
    assert log.status == "success", log.error
    sample, = log.samples
    score = sample.scores["tracr_scorer"]
    ours = score_prediction(PREDICTION, load_task("reverse"), task="reverse").model_dump(mode="json")
    got = score.metadata["score"]
    assert got["functional"]["correct"] and got["functional"]["agreement"] == ours["functional"]["agreement"] == 1.0
    assert got["label"] == ours["label"] and got["label"]["correct"]  # the matcher accepted the phrase
    # what the provider sent: our system prompt and tools, then the tool results our suite wrote
    bodies = [q["body"] for q in server.requests if q["path"].endswith("/chat/completions")]
    assert len(bodies) == 3 and bodies[0]["model"] == "gpt-4o"
    names = {t["function"]["name"] for t in bodies[0]["tools"]}
    assert {"model_info", "run_model", "submit_prediction"} <= names
    tool_results = [m["content"] for m in bodies[-1]["messages"] if m["role"] == "tool"]
    assert any('["a", "b", "c"] -> ["c", "b", "a"]' in str(c) for c in tool_results), tool_results
    server.shutdown()
