"""Transcripts: every event type round-trips; replay renders, reruns, and refuses bad files; inspect and export.

Episodes are real (the graph, real subjects compiled by tracr); the CLI is the
real `tracr-agent` app run in this process by typer's CliRunner (see `cli`), and an
exception escaping it counts as the traceback a user would see. One `replay --rerun`
through a real subprocess lives in test_result_origin.py.
"""

from __future__ import annotations

import json
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import pytest
from langchain_core.messages import AIMessage

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.records.limits import Limits
from tracr_agent.agent.backends.llm import Backend
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS

from fakes import ScriptedChatModel

# one pytest-xdist worker runs this whole module: the baseline episode (a module fixture) is run once
pytestmark = pytest.mark.xdist_group("test_transcripts")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [REPO / "transcripts" / f"baseline-{t}.jsonl" for t in ("reverse", "sort", "length")]
EVENT_TYPES = {tr.Header, tr.LLMRequest, tr.LLMResponse, tr.ToolCallEvent, tr.ToolResultEvent, tr.LimitEvent,
               tr.HumanEvent, tr.PredictionEvent, tr.ScoreEvent, tr.ErrorEvent, tr.EndEvent}


class Ran(NamedTuple):
    """What a user sees of one command: exit code, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


def cli(*args, input: str | None = None, columns: int = 120) -> Ran:
    """The real command line — the `tracr-agent` typer app with its consoles and exit codes — run in
    this process (typer's CliRunner, as the other CLI tests do), at a terminal width of `columns`.
    In a subprocess every `replay --rerun` paid for importing TransformerLens again (~5 s of CPU);
    here it is imported once per test session. An exception the app lets escape is put in stderr
    as the traceback a user would have seen, so `no_traceback` still catches it."""
    import traceback
    from contextlib import chdir
    from unittest import mock

    from rich.console import Console
    from typer.testing import CliRunner

    from tracr_agent.agent.cli import main

    with chdir(REPO), mock.patch.object(main, "console", Console(width=columns)), \
            mock.patch.object(main, "err_console", Console(stderr=True, width=columns)):
        r = CliRunner().invoke(main.app, [str(a) for a in args], input=input, env={"COLUMNS": str(columns)})
    stderr = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        stderr += "".join(traceback.format_exception(r.exception))
    return Ran(r.exit_code, r.stdout, stderr)


def no_traceback(p: Ran) -> None:
    assert "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr


def call(name, args, i):
    return {"id": i, "name": name, "args": args}


def episode(subject, path: Path, responses, *, review=None, **limits):
    """A real episode with a scripted chat model; returns (result, events emitted, events read back)."""
    emitted: list = []
    result = run_episode(subject, Backend("scripted", ScriptedChatModel(responses=responses, seen=[])),
                         condition="full", limits=Limits(**limits), transcript_path=path,
                         listeners=[emitted.append], review=review)
    events, problem = tr.read_transcript(path)
    assert problem is None
    return result, emitted, events


def assert_round_trip(emitted, events):
    assert len(emitted) == len(events)
    for a, b in zip(emitted, events):
        assert type(a) is type(b)
        assert a.model_dump() == b.model_dump()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines), encoding="utf-8")
    return path


# -- round trip ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline_episode(tmp_path_factory, reverse_subject):
    from tracr_agent.agent.investigators.registry import make_backend

    path = tmp_path_factory.mktemp("baseline") / "reverse.jsonl"
    emitted: list = []
    result = run_episode(reverse_subject, make_backend("baseline"), condition="full", transcript_path=path,
                         listeners=[emitted.append])
    return result, emitted, path


def test_round_trip_every_event_type(baseline_episode, reverse_subject, tmp_path):
    seen: set = set()

    # 1. The baseline: header, requests, responses, tool calls and results, prediction, score, end.
    result, emitted, path = baseline_episode
    events, problem = tr.read_transcript(path)
    assert problem is None and result.status == "prediction"
    assert_round_trip(emitted, events)
    seen |= {type(e) for e in events}
    assert isinstance(events[0], tr.Header) and events[0].cap_tokens == DEFAULT_CAP_TOKENS
    assert isinstance(events[-1], tr.EndEvent)
    ts = [e.t for e in events]
    assert ts == sorted(ts)

    # 2. A model that never submits, under max_tool_calls=2: a limit, then a forced turn it wastes.
    info = lambda i: AIMessage(content="", tool_calls=[call("model_info", {}, i)])  # noqa: E731
    never = [info("a1"), info("a2"),
             AIMessage(content="one more look", tool_calls=[call("model_info", {}, "a3")])]
    result, emitted, events = episode(reverse_subject, tmp_path / "limit.jsonl", never, max_tool_calls=2)
    assert_round_trip(emitted, events)
    assert result.status == "no_prediction"
    limit = [e for e in events if isinstance(e, tr.LimitEvent)]
    assert limit and limit[0].limit == "tool-call" and limit[0].value == 2
    seen |= {type(e) for e in events}

    # 3. A chat model that fails: an error event, status error.
    result, emitted, events = episode(reverse_subject, tmp_path / "error.jsonl",
                                      [RuntimeError("the server went away")])
    assert_round_trip(emitted, events)
    assert result.status == "error"
    err = [e for e in events if isinstance(e, tr.ErrorEvent)]
    assert err and "the server went away" in err[0].message and err[0].where == "llm"
    seen |= {type(e) for e in events}

    # 4. A person denying a call. No interactive path records HumanEvents yet (agent/cli_interactive
    #    will), so the review hook writes one through a second TranscriptWriter on the same file; the
    #    graph itself records the denied call and its "denied" result.
    path = tmp_path / "human.jsonl"
    writers: list = []

    def review(calls, state):
        # opened here, once the episode has started its own (fresh) file
        if not writers:
            writers.append(tr.TranscriptWriter(path, start=time.monotonic()))
        human_writer = writers[0]
        out = []
        for c in calls:
            if c["name"] == "model_info":
                human_writer.write(tr.HumanEvent(step=state.get("llm_turns", 0), action="deny",
                                                 text="not now", call_id=c["id"]))
                c = {**c, "denied": "not now"}
            out.append(c)
        return out

    submit = AIMessage(content="", tool_calls=[call("submit_prediction", {
        "label": "reverse", "description": "reverses the sequence",
        "implementation": "def f(tokens):\n    return list(reversed(tokens))\n", "confidence": 0.9}, "s1")])
    result, emitted, events = episode(reverse_subject, path, [info("h1"), submit], review=review)
    writers[0].close()
    humans = [e for e in events if isinstance(e, tr.HumanEvent)]
    assert len(humans) == 1 and humans[0].action == "deny" and humans[0].call_id == "h1"
    assert_round_trip(emitted, [e for e in events if not isinstance(e, tr.HumanEvent)])
    assert result.status == "prediction"
    seen |= {type(e) for e in events}

    assert seen == EVENT_TYPES, EVENT_TYPES - seen

    # Both the limit episode and the denial episode rerun cleanly: loop-written results are skipped.
    for name in ("limit.jsonl", "human.jsonl"):
        p = cli("replay", tmp_path / name, "--rerun")
        assert p.returncode == 0, p.stdout + p.stderr
        assert "skipped" in p.stdout
    p = cli("replay", tmp_path / "human.jsonl", "--rerun")
    assert "denied by the user" in p.stdout


def test_header_without_cap_tokens_reads_with_default(tmp_path):
    line = json.loads(EXAMPLES[0].read_text().splitlines()[0])
    line.pop("cap_tokens", None)
    events, _ = tr.read_transcript(write_lines(tmp_path / "old.jsonl", [json.dumps(line)]))
    assert events[0].cap_tokens == DEFAULT_CAP_TOKENS


def test_a_family_only_label_verdict_survives_the_transcript(tmp_path):
    """A generated program's label is scored at the family level only (correct=None): the transcript
    drops None fields, and what it wrote must read back."""
    from tracr_agent.agent.scoring.verdicts import LabelScore, Score

    score = Score(label=LabelScore(correct=None, family="counting", family_correct=True, family_by="concept:count"))
    path = tmp_path / "scored.jsonl"
    header = EXAMPLES[0].read_text().splitlines()[0]
    write_lines(path, [header, tr.ScoreEvent(score=score).model_dump_json(exclude_none=True)])
    events, problem = tr.read_transcript(path)
    assert problem is None, problem
    assert events[-1].score.label == score.label


# -- the committed examples ---------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_a_complete_baseline_transcript(path):
    events, problem = tr.read_transcript(path)
    assert problem is None
    h = events[0]
    assert h.llm in ("baseline", "baseline-closed") and h.subject.task_id == path.stem.split("-", 1)[1]
    assert h.closed_world is True  # the zoo lookup (old transcripts name it `baseline`: read as closed-world)
    assert isinstance(events[-1], tr.EndEvent) and events[-1].status == "prediction"
    assert any(isinstance(e, tr.ScoreEvent) for e in events)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_rerun_examples_match(path):
    p = cli("replay", path, "--rerun")
    no_traceback(p)
    assert p.returncode == 0, p.stdout + p.stderr
    assert " differ" in p.stdout and "0 differ" in p.stdout


def test_rerun_detects_tampered_result(tmp_path):
    lines = EXAMPLES[0].read_text().splitlines()
    idx = [i for i, line in enumerate(lines) if json.loads(line)["type"] == "tool_result"
           and not json.loads(line)["name"] == "submit_prediction"][1]
    ev = json.loads(lines[idx])
    ev["text"] = ev["text"] + "\nan extra line nobody computed"
    lines[idx] = json.dumps(ev)
    path = write_lines(tmp_path / "tampered.jsonl", lines)
    p = cli("replay", path, "--rerun")
    no_traceback(p)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"mismatch at step {ev['step']}" in p.stdout
    assert "+an extra line nobody computed" not in p.stdout  # the re-executed side lacks it …
    assert "-an extra line nobody computed" in p.stdout  # … so the diff removes it


def test_rerun_refuses_a_different_model(tmp_path):
    lines = EXAMPLES[0].read_text().splitlines()
    h = json.loads(lines[0])
    h["subject"]["fingerprint"] = "0000000000000000"
    lines[0] = json.dumps(h)
    p = cli("replay", write_lines(tmp_path / "other.jsonl", lines), "--rerun")
    no_traceback(p)
    assert p.returncode == 2
    assert "fingerprint mismatch" in p.stderr and "0000000000000000" in p.stderr


def test_rerun_model_dir_subject(tmp_path, length_subject):
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.tools.subjects.load import load_model_dir
    from tracr_agent.tools.subjects.modeldir import write_model_dir

    model_dir = tmp_path / "model"
    write_model_dir(model_dir, length_subject.card, length_subject.weights)
    path = tmp_path / "md.jsonl"
    run_episode(load_model_dir(str(model_dir)), make_backend("baseline"), transcript_path=path)
    h = tr.read_transcript(path)[0][0]
    assert h.subject.kind == "model_dir" and h.subject.source == str(model_dir)
    # The folder the transcript names is never loaded by itself: the user names the model.
    p = cli("replay", path, "--rerun")
    no_traceback(p)
    assert p.returncode == 2 and "--model-dir DIR" in p.stderr, p.stderr
    p = cli("replay", path, "--rerun", "--model-dir", model_dir)
    no_traceback(p)
    assert p.returncode == 0, p.stdout + p.stderr
    # another model is refused by fingerprint before any tool runs
    other = tmp_path / "other"
    write_model_dir(other, length_subject.card, {**length_subject.weights,
                                                 "unembed.b_U": length_subject.weights["unembed.b_U"] + 1})
    p = cli("replay", path, "--rerun", "--model-dir", other)
    no_traceback(p)
    assert p.returncode == 2 and "fingerprint mismatch" in p.stderr
    shutil.rmtree(model_dir)
    p = cli("replay", path, "--rerun", "--model-dir", model_dir)
    no_traceback(p)
    assert p.returncode == 2 and "does not exist" in p.stderr


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_replay_backend_reproduces_calls_and_prediction(tmp_path):
    out = tmp_path / "again.jsonl"
    p = cli("run", "reverse", "--llm", f"replay:{EXAMPLES[0]}", "--quiet", "--transcript", out)
    no_traceback(p)
    assert p.returncode == 0, p.stdout + p.stderr
    old, _ = tr.read_transcript(EXAMPLES[0])
    new, _ = tr.read_transcript(out)

    def calls(evs):
        return [(e.name, e.args) for e in evs if isinstance(e, tr.ToolCallEvent)]

    def prediction(evs):
        return [e.model_dump(exclude={"t"}) for e in evs if isinstance(e, tr.PredictionEvent)]

    assert calls(new) == calls(old) and calls(old)
    assert prediction(new) == prediction(old) and prediction(old)
    assert [e.text for e in new if isinstance(e, tr.ToolResultEvent)] == \
        [e.text for e in old if isinstance(e, tr.ToolResultEvent)]


# -- replay rendering ---------------------------------------------------------------------------


def test_replay_renders_like_the_live_view():
    p = cli("replay", EXAMPLES[0])
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    events, _ = tr.read_transcript(EXAMPLES[0])
    assert "subject reverse" in p.stdout and "condition full" in p.stdout
    for name in {e.name for e in events if isinstance(e, tr.ToolCallEvent)}:
        assert f"→ {name}" in p.stdout
    assert "prediction" in p.stdout and "score:" in p.stdout


def test_replay_filters_and_modes():
    only_tools = cli("replay", EXAMPLES[0], "--only", "tools")
    assert only_tools.returncode == 0 and "→ " in only_tools.stdout and "turn 1" not in only_tools.stdout
    only_llm = cli("replay", EXAMPLES[0], "--only", "llm")
    assert only_llm.returncode == 0 and "turn 1" in only_llm.stdout and "→ " not in only_llm.stdout
    bad = cli("replay", EXAMPLES[0], "--only", "nonsense")
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    n_turns = sum(isinstance(e, tr.LLMResponse) for e in tr.read_transcript(EXAMPLES[0])[0])
    stepped = cli("replay", EXAMPLES[0], "--step", input="\n" * 100)
    assert stepped.returncode == 0 and stepped.stderr.count("Enter: next turn") == n_turns
    quit_early = cli("replay", EXAMPLES[0], "--step", input="q\n")
    assert quit_early.returncode == 0 and quit_early.stderr.count("Enter: next turn") == 1
    assert quit_early.stdout == cli("replay", EXAMPLES[0]).stdout
    t0 = time.monotonic()
    timed = cli("replay", EXAMPLES[0], "--speed", "1000")
    assert timed.returncode == 0 and time.monotonic() - t0 < 60
    verbose = cli("replay", EXAMPLES[0], "--verbose")
    assert "--verbose shows all" not in verbose.stdout


def test_corrupt_line_renders_prefix_then_names_the_line(tmp_path):
    lines = EXAMPLES[1].read_text().splitlines()
    n = 6
    lines[n - 1] = lines[n - 1][: len(lines[n - 1]) // 2]  # cut in the middle, as a crash mid-write would
    p = cli("replay", write_lines(tmp_path / "cut.jsonl", lines))
    no_traceback(p)
    assert p.returncode != 0
    assert "subject sort" in p.stdout  # the header (and what follows it) is still rendered
    assert f"cut.jsonl:{n}: corrupt or truncated line" in p.stderr
    assert p.stderr.startswith("error:") and len(p.stderr.strip().splitlines()) == 1


def test_invalid_event_names_the_line(tmp_path):
    lines = EXAMPLES[0].read_text().splitlines()[:4] + ['{"type": "tool_call", "step": "x"}', "[1, 2]"]
    p = cli("replay", write_lines(tmp_path / "bad.jsonl", lines))
    no_traceback(p)
    assert p.returncode != 0 and "bad.jsonl:5: invalid 'tool_call' event" in p.stderr
    p = cli("replay", write_lines(tmp_path / "bad2.jsonl", EXAMPLES[0].read_text().splitlines()[:4] + ["[1, 2]"]))
    no_traceback(p)
    assert p.returncode != 0 and "bad2.jsonl:5:" in p.stderr


def test_unknown_schema_version_is_refused(tmp_path):
    lines = EXAMPLES[0].read_text().splitlines()
    h = json.loads(lines[0])
    h["schema_version"] = 99
    lines[0] = json.dumps(h)
    p = cli("replay", write_lines(tmp_path / "future.jsonl", lines))
    no_traceback(p)
    assert p.returncode == 2
    assert "schema version 99 is not supported" in p.stderr
    assert "reads versions " + ", ".join(map(str, tr.SUPPORTED_VERSIONS)) in p.stderr


@pytest.mark.parametrize("content", ['{"hello": "world"}\n', "just some text\nmore\n", "", "\x00\x01\x02binary"],
                         ids=["json", "text", "empty", "binary"])
def test_not_a_transcript_is_refused(tmp_path, content):
    path = tmp_path / "notes.jsonl"
    path.write_text(content, encoding="utf-8")
    for cmd in (("replay", path), ("replay", path, "--rerun"), ("export", path)):
        p = cli(*cmd)
        no_traceback(p)
        assert p.returncode == 2, (cmd, p.stdout, p.stderr)
        assert "is not a tracr-agent transcript" in p.stderr


def test_missing_file_and_directory(tmp_path):
    p = cli("replay", tmp_path / "nope.jsonl")
    assert p.returncode == 2 and "no such transcript file" in p.stderr
    p = cli("replay", tmp_path)
    assert p.returncode == 2 and "is a directory" in p.stderr
    p = cli("transcripts", tmp_path / "nope")
    assert p.returncode == 2 and "is not a directory" in p.stderr
    no_traceback(p)


# -- transcripts (formerly inspect) -------------------------------------------------------------


def test_transcripts_table_and_json(tmp_path):
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(EXAMPLES[0], tmp_path / "a.jsonl")
    shutil.copy(EXAMPLES[1], tmp_path / "nested" / "b.jsonl")
    shutil.copy(EXAMPLES[2], tmp_path / "nested" / "deeper" / "c.jsonl")
    (tmp_path / "nested" / "other.jsonl").write_text('{"not": "a transcript"}\n')
    (tmp_path / "readme.txt").write_text("ignored")
    cut = EXAMPLES[0].read_text().splitlines()[:7]
    write_lines(tmp_path / "partial.jsonl", cut)

    p = cli("transcripts", tmp_path)
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    for word in ("a.jsonl", "b.jsonl", "c.jsonl", "partial.jsonl", "reverse", "sort", "length", "baseline",
                 "incomplete", "1 other .jsonl file(s) skipped", "4 transcript(s)"):
        assert word in p.stdout, word
    assert "other.jsonl" not in p.stdout.replace("other .jsonl", "")

    # `inspect`, the old name (Inspect AI's command is also `inspect`), still works and says so, once
    old = cli("inspect", tmp_path, "--json")
    assert old.returncode == 0 and old.stdout == cli("transcripts", tmp_path, "--json").stdout
    assert old.stderr.count("`tracr-agent inspect` is now `tracr-agent transcripts`") == 1
    commands = [line.split()[1] for line in cli("--help").stdout.splitlines() if line.startswith("│ ") and line.split()[1:]]
    assert "transcripts" in commands and "inspect" not in commands  # listed under its new name only

    p = cli("transcripts", tmp_path, "--json")
    assert p.returncode == 0
    rows = {r["file"]: r for r in json.loads(p.stdout)}
    assert set(rows) == {"a.jsonl", "nested/b.jsonl", "nested/deeper/c.jsonl", "partial.jsonl"}
    a = rows["a.jsonl"]
    events, _ = tr.read_transcript(EXAMPLES[0])
    end = events[-1]
    pred = next(e for e in events if isinstance(e, tr.PredictionEvent))
    score = next(e for e in events if isinstance(e, tr.ScoreEvent)).score
    assert a["task"] == "reverse" and a["condition"] == "full" and a["llm"] == "baseline" and a["actor"] == "agent"
    assert a["tool_calls"] == end.tool_calls and a["status"] == "prediction" and a["duration_s"] == end.duration_s
    assert a["prediction"] == pred.label
    assert a["label_correct"] == score.label.correct
    assert a["functional_correct"] == score.functional.correct
    assert rows["partial.jsonl"]["status"] == "incomplete" and rows["partial.jsonl"]["prediction"] is None


def test_transcripts_never_cut_a_file_name_at_any_width(tmp_path):
    long_name = "reverse__full__openai-compatible_qwen2.5-coder-32b-instruct__trial0-2026-11-26T00-00-00.jsonl"
    (tmp_path / "eval-2026-11-26" / "transcripts").mkdir(parents=True)
    for ex in EXAMPLES:
        shutil.copy(ex, tmp_path / "eval-2026-11-26" / "transcripts" / ex.name)
    shutil.copy(EXAMPLES[0], tmp_path / "eval-2026-11-26" / "transcripts" / long_name)

    names = sorted([e.name for e in EXAMPLES]) + [long_name]
    for columns in (60, 80, 120, 250):
        p = cli("transcripts", tmp_path, columns=columns)
        assert p.returncode == 0, p.stderr
        assert "…" not in p.stdout  # nothing cut short
        for name in names:  # every file name whole, on one line
            assert any(name in line for line in p.stdout.splitlines()), (columns, name, p.stdout)
        assert p.stdout.count("prediction") >= len(names)  # each transcript's status is there
    wide = cli("transcripts", tmp_path, columns=250).stdout.splitlines()
    header = next(line for line in wide if line.startswith("file"))
    assert header.split()[-1] == "status" and len([line for line in wide if ".jsonl" in line]) == 4  # a table

    rows = json.loads(cli("transcripts", tmp_path, "--json", columns=80).stdout)
    assert f"eval-2026-11-26/transcripts/{long_name}" in {r["file"] for r in rows}

    # two transcripts with one file name in different folders: the table shows their paths
    (tmp_path / "other").mkdir()
    shutil.copy(EXAMPLES[1], tmp_path / "other" / EXAMPLES[1].name)
    p = cli("transcripts", tmp_path, columns=250)
    assert f"other/{EXAMPLES[1].name}" in p.stdout and f"transcripts/{EXAMPLES[1].name}" in p.stdout


# -- export -------------------------------------------------------------------------------------


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_export_markdown_and_html(tmp_path):
    lines = EXAMPLES[0].read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "llm_response")
    ev = json.loads(lines[idx])
    ev["text"] = "I suspect <script>alert(1)</script> & friends"
    lines[idx] = json.dumps(ev)
    idx = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "tool_result")
    ev = json.loads(lines[idx])
    ev["text"] += "\n``` a fence inside a result"
    lines[idx] = json.dumps(ev)
    src = write_lines(tmp_path / "ep.jsonl", lines)
    events, _ = tr.read_transcript(src)
    pred = next(e for e in events if isinstance(e, tr.PredictionEvent))
    calls = [e for e in events if isinstance(e, tr.ToolCallEvent)]

    p = cli("export", src)  # md is the default; the path is FILE with .md
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "ep.md").read_text()
    assert md.startswith("# tracr-agent episode: reverse")
    assert "## Turn 1" in md and "## Prediction" in md and "## Score" in md
    assert f"### → {calls[0].name}" in md
    assert pred.implementation.strip() in md and "```python" in md
    assert "````\n" in md and "\n``` a fence inside a result\n````" in md  # a longer fence around ```

    out = tmp_path / "docs" / "episode.html"
    p = cli("export", src, "--format", "html", "--out", out)
    assert p.returncode == 0, p.stderr
    html = out.read_text()
    # The episode's own text is escaped; the page's only scripts are its pictures (inert JSON) and the
    # script that draws them.
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    parser = _Collect()
    parser.feed(html)
    parser.close()
    assert not parser.open
    assert parser.tags.count("script") == 2 and '<script type="application/json" id="pictures">' in html
    assert {"h1", "h2", "pre", "code", "style"} <= set(parser.tags)
    text = "".join(parser.text)
    assert pred.implementation.strip() in text and pred.label in text
    first_result = next(e for e in events if isinstance(e, tr.ToolResultEvent))
    assert first_result.text.strip() in text

    p = cli("export", src, "--format", "pdf")
    assert p.returncode == 2 and "md, html or inspect" in p.stderr
