"""Heatmaps in the terminal: attention patterns and residual decodes drawn as shaded grids in the live view,
`replay` and `lab`; `--plain` keeps the text the agent read. Colour is detected from the terminal, so the
CLI runs here with FORCE_COLOR and COLORTERM=truecolor, as in a colour terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from recorded import recorded
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


def test_replay_draws_grids_and_plain_keeps_the_text(tmp_path, reverse_subject):
    path = recorded(tmp_path / "ep.jsonl", reverse_subject, [("attention_pattern", {"layer": 3, "head": 0, "input": X}),
                                                            ("decode_residual", {"layer": 2, "input": X})], condition="full")
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


def _sgr_codes(text: str) -> list[str]:
    """Every SGR parameter list in a coloured output (`\\x1b[1;35m` -> '1;35')."""
    import re

    return re.findall(r"\x1b\[([0-9;]*)m", text)


def _basic_foregrounds(codes: list[str]) -> set[int]:
    """The basic foreground colours set (30-37, 90-97), skipping the RGB triplets of 38;2;R;G;B and 48;2;…."""
    out = set()
    for code in codes:
        parts = [int(p) for p in code.split(";") if p]
        i = 0
        while i < len(parts):
            if parts[i] in (38, 48) and i + 1 < len(parts) and parts[i + 1] == 2:
                i += 5
                continue
            if 30 <= parts[i] <= 37 or 90 <= parts[i] <= 97:
                out.add(parts[i])
            i += 1
    return out


@pytest.mark.slow  # a whole decompiler episode in a fresh process (~20 s under load)
def test_json_reads_are_drawn_not_dumped_and_the_view_reads_on_light_backgrounds(tmp_path):
    """The decompiler reads the model through get_activations' JSON form: the live view draws those reads as
    grids (one per result, with a line counting the rest), never prints the JSON, and uses no white or
    yellow text (invisible on a light background)."""
    p = cli("run", "reverse", "--condition", "whitebox", "--llm", "decompiler", "--transcript", tmp_path / "t.jsonl")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert '{"hooks"' not in out and '"residual_labels"' not in out  # no raw JSON
    assert out.count("more picture(s) (--verbose draws them all)") >= 5
    assert "indices" in out and "tokens" in out and "48;2;" in out  # residual reads drawn, coloured
    assert len(out.splitlines()) < 300  # was ~440 lines of JSON
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "→ get_activations hook=blocks.0.hook_resid_pre," in plain and "input=1 input: [a b c d a]" in plain
    assert not _basic_foregrounds(_sgr_codes(out)) & {33, 37, 93, 97}, sorted(_basic_foregrounds(_sgr_codes(out)))


def test_run_quiet_prints_its_path_whole_and_no_sandbox_banner(tmp_path):
    from tracr_agent.tools.sandbox.runner import isolation_line

    deep = tmp_path / "a-rather-long-folder-name" / "and-another-one-below-it" / "transcripts"
    env = {**os.environ, "COLUMNS": "40"}
    p = subprocess.run([sys.executable, "-c", "from tracr_agent.agent.cli.main import main; main()", "run", "reverse",
                        "--llm", "baseline", "-q", "--out", str(deep)], capture_output=True, text=True, timeout=300,
                       cwd=REPO, env=env)
    assert p.returncode == 0, p.stderr
    path = next(deep.glob("*.jsonl"))
    assert f"transcript: {path}\n" in p.stdout  # one unbroken line, however narrow the terminal
    if isolation_line().startswith("sandbox: bubblewrap ("):  # the full sandbox: nothing to warn about, so quiet says nothing
        assert "sandbox:" not in p.stdout + p.stderr
