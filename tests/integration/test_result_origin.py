"""Every tool result says who wrote it (`tool_result.origin`), and `replay --rerun` decides what to
re-execute from that field, never from the wording of an error. Transcripts written before the field
existed (schema 1.0) read the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

from langchain_core.messages import AIMessage

from tracr_agent.agent.backends.llm import Backend
from tracr_agent.agent.cli.transcripts import SKIP_REASONS, plan_rerun
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.records.limits import Limits

from fakes import ScriptedChatModel

REPO = Path(__file__).resolve().parents[2]
SUBMIT = {"label": "reverse", "description": "reverses the sequence",
          "implementation": "def f(tokens):\n    return list(reversed(tokens))\n", "confidence": 0.9}
EXPECTED = {"h1": "denied", "c1": "tool", "c2": "tool", "c3": "tool_limit", "b1": "invalid_call",
            "f1": "forced_turn", "s1": "tool", "s2": "already_submitted"}


def call(name, args, i):
    return {"id": i, "name": name, "args": args}


def every_refusal_episode(subject, path: Path) -> list:
    """One real episode in which the loop refuses a call in each of its ways (max_tool_calls=2)."""
    first = AIMessage(content="", tool_calls=[call("model_info", {}, i) for i in ("h1", "c1", "c2", "c3")],
                      invalid_tool_calls=[{"id": "b1", "name": "run_model", "args": "{inputs: [[a", "error": "bad json",
                                           "type": "invalid_tool_call"}])
    forced = AIMessage(content="", tool_calls=[call("model_info", {}, "f1"), call("submit_prediction", SUBMIT, "s1"),
                                               call("submit_prediction", SUBMIT, "s2")])

    def review(calls, state):  # a person denies h1
        return [{**c, "denied": "not now"} if c["id"] == "h1" else c for c in calls]

    run_episode(subject, Backend("scripted", ScriptedChatModel(responses=[first, forced], seen=[])),
                condition="full", limits=Limits(max_tool_calls=2), transcript_path=path, review=review)
    events, problem = tr.read_transcript(path)
    assert problem is None
    return events


def rewrite(path: Path, out: Path, change) -> Path:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    out.write_text("".join(json.dumps(change(d)) + "\n" for d in lines))
    return out


def skips(events) -> dict:
    return {r["call_id"]: r["skip"] for r in plan_rerun(events)}


def test_the_loop_records_who_wrote_each_result_and_rerun_reads_it(reverse_subject, tmp_path):
    events = every_refusal_episode(reverse_subject, tmp_path / "new.jsonl")
    assert events[0].schema_minor == tr.SCHEMA_MINOR == 5
    results = {e.call_id: e for e in events if isinstance(e, tr.ToolResultEvent)}
    assert {k: e.origin for k, e in results.items()} == EXPECTED
    assert all(e.is_error for k, e in results.items() if EXPECTED[k] != "tool")
    want = {k: SKIP_REASONS.get(o) for k, o in EXPECTED.items()}
    assert skips(events) == want

    # The decision follows the field, not the words: reworded refusals are still skipped, and a
    # tool's own result that happens to read like a refusal is still re-executed.
    def reword(d):
        if d.get("type") == "tool_result":
            d["text"] = "error: the user denied this call: (a tool said so)" if d["origin"] == "tool" else "nope"
        return d

    reworded, _ = tr.read_transcript(rewrite(tmp_path / "new.jsonl", tmp_path / "reworded.jsonl", reword))
    assert skips(reworded) == want


def test_a_schema_1_0_transcript_reads_the_same(reverse_subject, tmp_path):
    every_refusal_episode(reverse_subject, tmp_path / "new.jsonl")

    def as_1_0(d):
        d.pop("origin", None)
        d.pop("schema_minor", None)
        return d

    old = rewrite(tmp_path / "new.jsonl", tmp_path / "old.jsonl", as_1_0)
    assert '"origin"' not in old.read_text() and '"schema_minor"' not in old.read_text()
    events, problem = tr.read_transcript(old)
    assert problem is None and events[0].schema_minor == 0
    results = [e for e in events if isinstance(e, tr.ToolResultEvent)]
    assert all(e.origin is None for e in results)
    assert {e.call_id: tr.result_origin(e) for e in results} == EXPECTED
    assert skips(events) == {k: SKIP_REASONS.get(o) for k, o in EXPECTED.items()}

    # The real command: the three tool calls re-execute and match, the five refusals are skipped.
    p = subprocess.run([sys.executable, "-c", "from tracr_agent.agent.cli.main import main; main()",
                        "replay", str(old), "--rerun"], capture_output=True, text=True, cwd=REPO, timeout=300,
                       env={**__import__("os").environ, "COLUMNS": "200"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 tool call(s) re-executed: 3 match, 0 differ; 5 skipped" in p.stdout
    for reason in SKIP_REASONS.values():
        assert f"skipped ({reason})" in p.stdout


def test_every_loop_origin_has_a_skip_reason():
    assert set(SKIP_REASONS) == set(get_args(tr.ResultOrigin)) - {"tool"}
