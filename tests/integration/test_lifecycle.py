"""The episode lifecycle, limits and conditions, each declared in one place and used by every command.

- The limit options of `run` and `eval` are generated from `Limits`: what a user passes is what
  the transcript header records, and the defaults are Limits()'s.
- Header, score and end events are written by `Episode` only (agent/episode/lifecycle.py).
- A condition is one declaration: declaring a new one is enough for the tool policy, the prompt
  and the CLI checks to honour it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.limits import Limits

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def header_of(path: Path) -> tr.Header:
    events, _ = tr.read_transcript(path)
    assert isinstance(events[0], tr.Header) and isinstance(events[-1], tr.EndEvent)
    return events[0]


def test_run_limit_options_reach_the_header(tmp_path, reverse_subject):
    path = tmp_path / "t.jsonl"
    r = runner.invoke(app, ["run", "reverse", "--llm", "baseline", "--quiet", "--transcript", str(path),
                            "--max-tool-calls", "7", "--max-seconds", "123.5", "--cap", "900"])
    assert r.exit_code == 0, r.output
    h = header_of(path)
    assert h.limits == Limits(max_tool_calls=7, max_seconds=123.5)
    assert h.cap_tokens == 900


def test_eval_limit_options_reach_every_header(tmp_path, reverse_subject):
    out = tmp_path / "ev"
    r = runner.invoke(app, ["eval", "--tasks", "reverse", "--conditions", "blackbox,static", "--llm", "baseline",
                            "--out", str(out), "--max-llm-turns", "9", "--max-cost", "0.5"])
    assert r.exit_code == 0, r.output
    paths = sorted((out / "transcripts").glob("*.jsonl"))
    assert len(paths) == 2
    for p in paths:
        assert header_of(p).limits == Limits(max_llm_turns=9, max_cost=0.5)


def test_limit_option_defaults_are_the_limits_defaults():
    import typer.main

    for name in ("run", "eval"):
        cmd = typer.main.get_command(app).commands[name]
        opts = {p.name: p.default for p in cmd.params}
        assert {k: opts[k] for k in Limits.model_fields} == Limits().model_dump()


def _constructs(tree: ast.AST, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if called in names:
                found.append(called)
    return found


def test_header_score_and_end_are_written_in_one_place():
    lifecycle_events = {"Header", "ScoreEvent", "EndEvent"}
    writers = {}
    for path in sorted((ROOT / "agent").rglob("*.py")):
        hits = _constructs(ast.parse(path.read_text()), lifecycle_events)
        if hits:
            writers[path.relative_to(ROOT).as_posix()] = sorted(set(hits))
    # An Inspect log read back is turned into the events of the transcript it stands for (a format
    # conversion of an episode that already ended, never an episode of ours): the one other place.
    converters = {"agent/integrations/inspect_log.py"}
    assert {k: v for k, v in writers.items() if k not in converters} == {"agent/episode/lifecycle.py": sorted(lifecycle_events)}


def test_a_declared_condition_is_honoured_everywhere(monkeypatch, reverse_subject):
    from tracr_agent.agent.loop.prompts import system_prompt
    from tracr_agent.tools.suite import CONDITIONS, ToolContext, call_tool, tool_names
    from tracr_agent.tools.conditions import ConditionRules

    monkeypatch.setitem(CONDITIONS, "probe", ConditionRules(
        "probe", "attention only", also_tools=frozenset({"attention_pattern", "submit_prediction"}),
        reveals_output=False, prompt_note="You may only look at attention patterns."))
    assert tool_names("probe") == ["attention_pattern", "submit_prediction"]
    prompt = system_prompt("probe", reverse_subject)
    assert "You may only look at attention patterns." in prompt and "run_model" not in prompt
    ctx = ToolContext(condition="probe")
    refused = call_tool(reverse_subject, "run_model", {"inputs": [["a", "b"]]}, ctx)
    assert refused.is_error and "not available in this session" in refused.text
    ok = call_tool(reverse_subject, "attention_pattern", {"layer": 0, "head": 0, "input": ["a", "b"]}, ctx)
    assert not ok.is_error, ok.text
    assert not ctx.reveals_output


def test_unknown_condition_is_one_line_everywhere(tmp_path):
    for args in (["run", "reverse", "-c", "greybox"], ["lab", "reverse", "-c", "greybox"],
                 ["tool", "reverse", "model_info", "-c", "greybox"],
                 ["eval", "--tasks", "reverse", "--conditions", "greybox", "--out", str(tmp_path / "e")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "greybox" in r.output and "full" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("condition,pairs", [("static", False), ("static+io", True)])
def test_static_dump_follows_the_declaration(reverse_subject, condition, pairs):
    from tracr_agent.agent.investigators.static import static_dump
    from tracr_agent.tools.conditions import CONDITIONS

    dump = static_dump(reverse_subject, condition)[0]
    for hook in CONDITIONS[condition].static.hooks:
        assert hook in dump
    assert ("== input/output pairs ==" in dump) == pairs


def test_tool_order_does_not_depend_on_import_order():
    import subprocess
    import sys

    code = ("{imp}from tracr_agent.tools.suite.base import tool_names; "
            "print(','.join(tool_names('full')))")
    plain = subprocess.run([sys.executable, "-c", code.format(imp="")], capture_output=True, text=True, check=True)
    early = subprocess.run([sys.executable, "-c", code.format(imp="import tracr_agent.tools.suite.outputs; ")],
                           capture_output=True, text=True, check=True)
    assert plain.stdout == early.stdout and plain.stdout.startswith("decode_residual,")
