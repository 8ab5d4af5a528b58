"""A run killed with SIGKILL mid-episode leaves a transcript that replays: the flush-per-event guarantee."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracr_agent.agent.records import transcript as tr

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from tracr_agent.agent.cli.main import main; main()"]


def complete_lines(path: Path) -> list[dict]:
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_run_leaves_a_replayable_prefix(tmp_path, sort_subject):
    # sort_subject: compiled (and cached) beforehand, so the child reaches its tool calls quickly.
    path = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([*CLI, "run", "sort", "--llm", "baseline", "--quiet", "--transcript", str(path)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if any(ev.get("type") == "tool_result" for ev in complete_lines(path)):
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before a tool result was seen"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    raw = path.read_text(encoding="utf-8")
    lines = complete_lines(path)
    partial_last_line = bool(raw) and not raw.endswith("\n")
    assert lines[0]["type"] == "header"
    assert not any(ev["type"] == "end" for ev in lines), "the kill landed after the episode finished"
    calls = [ev for ev in lines if ev["type"] == "tool_call"]
    assert calls and any(ev["type"] == "tool_result" for ev in lines)

    events, problem = tr.read_transcript(path, strict=False)
    assert (problem is not None) == partial_last_line
    assert len(events) == len(lines)

    p = subprocess.run([*CLI, "replay", str(path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "COLUMNS": "120"})
    assert "Traceback" not in p.stdout + p.stderr
    if partial_last_line:
        assert p.returncode != 0 and f"killed.jsonl:{len(lines) + 1}:" in p.stderr
    else:
        assert p.returncode == 0, p.stderr
        assert "no end event" in p.stderr
    assert "subject sort" in p.stdout and "baseline" in p.stdout  # the header
    for ev in calls:
        assert f"→ {ev['name']}" in p.stdout  # every recorded tool call
