"""Heatmaps in the terminal: attention patterns and residual decodes drawn as shaded grids in the live view,
`replay` and `lab`; `--plain` keeps the text the agent read. Colour is detected from the terminal, so the
CLI runs here with FORCE_COLOR and COLORTERM=truecolor, as in a colour terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.render.grids import result_renderable
from tracr_agent.tools.suite.base import ToolContext, call_tool

REPO = Path(__file__).resolve().parents[2]
X = ["a", "b", "c"]
BLUE = "48;2;38;99;235"
"""The ANSI background of a full-weight (1.0) heatmap cell."""


def cli(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FORCE_COLOR": "1", "COLORTERM": "truecolor", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-c", "from tracr_agent.agent.cli.main import main; main()", *map(str, args)],
                          capture_output=True, text=True, input=stdin, timeout=300, cwd=REPO, env=env)


def test_an_attention_pattern_is_a_grid_with_one_shaded_cell_per_query_and_key(reverse_subject):
    text = call_tool(reverse_subject, "attention_pattern", {"layer": 3, "head": 0, "input": X}, ToolContext()).text
    console = Console(color_system="truecolor", width=100)
    lines = list(console.render_lines(result_renderable(text), console.options))
    shaded = [[seg for seg in line if seg.style and seg.style.bgcolor] for line in lines]
    grid = [row for row in shaded if row]
    assert len(grid) == 4 and all(len(row) == 4 for row in grid)  # BOS + 3 queries × BOS + 3 keys
    full = [[seg.style.bgcolor.triplet == (38, 99, 235) for seg in row] for row in grid]
    assert full == [[True, False, False, False], [False, False, False, True],  # reverse: the anti-diagonal
                    [False, False, True, False], [False, True, False, False]]


def test_no_grid_for_results_without_one(reverse_subject):
    text = call_tool(reverse_subject, "run_model", {"inputs": [X]}, ToolContext()).text
    assert result_renderable(text) is None and result_renderable("error: bad", is_error=True) is None


def _transcript(path: Path, subject) -> Path:
    w = tr.TranscriptWriter(path)
    w.write(tr.Header(subject=tr.SubjectRef(fingerprint=subject.fingerprint, task_id="reverse"), condition="full",
                      llm="script"))
    w.write(tr.LLMResponse(step=1, text="Looking inside."))
    for i, (name, args) in enumerate((("attention_pattern", {"layer": 3, "head": 0, "input": X}),
                                      ("decode_residual", {"layer": 2, "input": X}))):
        res = call_tool(subject, name, args, ToolContext())
        w.write(tr.ToolCallEvent(step=1, call_id=f"c{i}", name=name, args=args))
        w.write(tr.ToolResultEvent(step=1, call_id=f"c{i}", name=name, text=res.text))
    w.write(tr.EndEvent(status="no_prediction"))
    w.close()
    return path


def test_replay_draws_grids_and_plain_keeps_the_text(tmp_path, reverse_subject):
    path = _transcript(tmp_path / "ep.jsonl", reverse_subject)
    shaded = cli("replay", path)
    assert shaded.returncode == 0, shaded.stderr
    assert shaded.stdout.count(BLUE) >= 4  # the attention grid's four 1.0 cells
    assert "48;2;" in shaded.stdout.split("decoded by variable")[1]  # the residual decode is coloured too
    plain = cli("replay", path, "--plain")
    assert plain.returncode == 0, plain.stderr
    assert "48;2;" not in plain.stdout
    assert "query\\key  0 BOS  1 a  2 b  3 c" in plain.stdout  # the text the agent read, as before


@pytest.mark.slow  # two lab sessions, each loading the subject in a fresh process
def test_lab_draws_the_grid_and_plain_prints_the_text(tmp_path):
    line = 'attention_pattern layer=3 head=0 input=["a", "b", "c"]\nquit\n'
    shaded = cli("lab", "reverse", "--transcript", tmp_path / "lab.jsonl", stdin=line)
    assert shaded.returncode == 0, shaded.stderr
    assert shaded.stdout.count(BLUE) >= 4 and "anti-diagonal" in shaded.stdout
    plain = cli("lab", "reverse", "--transcript", tmp_path / "lab2.jsonl", "--plain", stdin=line)
    assert plain.returncode == 0, plain.stderr
    assert "48;2;" not in plain.stdout and "query\\key  0 BOS  1 a  2 b  3 c" in plain.stdout
    # The transcript records the tool's text either way: only the person's view changed.
    a = [e.text for e in tr.read_transcript(tmp_path / "lab.jsonl")[0] if isinstance(e, tr.ToolResultEvent)]
    b = [e.text for e in tr.read_transcript(tmp_path / "lab2.jsonl")[0] if isinstance(e, tr.ToolResultEvent)]
    assert a == b and "query\\key" in a[0]
