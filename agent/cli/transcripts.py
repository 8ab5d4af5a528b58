"""Transcript commands: `replay` (render or re-execute), `transcripts` (list a directory; `inspect` is its old
name, kept as an alias that says so: Inspect AI's command is also `inspect`), `export` (md/html), `view`.

Registered on the main typer app by `tracr_agent.agent.cli.main._register_more()`. Every import of
the project's machinery stays inside the command that needs it: start-up time (`tracr-agent --help`
loads only typer, rich and the option declarations; benchmarks/cli_startup.py). User
errors (a missing, corrupt or foreign file; an unknown schema version; a
subject whose fingerprint changed) print one `error: …` line and exit non-zero.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from tracr_agent.agent.cli.options import PlainOpt

SKIP_REASONS = {
    "denied": "denied by the user",
    "already_submitted": "prediction already submitted",
    "forced_turn": "limit reached (forced turn)",
    "tool_limit": "tool-call limit reached",
    "invalid_call": "invalid JSON arguments",
}
"""Why rerun skips a recorded result the loop wrote itself (its `origin`, transcript.ResultOrigin):
`call_tool` never ran it, so there is nothing to re-execute."""

ONLY_CHOICES = ("tools", "llm", "human")
MAX_GAP_S = 10.0
"""`--speed` playback never waits longer than this between two events (e.g. a long human pause)."""
SPEED_RANGE = (0.01, 10_000.0)
"""`--speed` is 0 (no waiting) or in this range: 100 times slower than the episode at most (a tiny
positive speed would wait MAX_GAP_S at every event), 10,000 times faster at most."""


# -- reading ------------------------------------------------------------------------------------


# -- replay -------------------------------------------------------------------------------------


def _render(events, problem: Optional[str], *, step: bool, speed: float, only: Optional[str], verbose: bool,
            plain: bool = False) -> None:
    from tracr_agent.agent.records import transcript as tr
    from tracr_agent.agent.cli.main import console, err_console
    from tracr_agent.agent.render.live import LiveView

    view = LiveView(console, verbose=verbose, only=only, plain=plain)
    prev_t = None
    seen_turn = False
    stepping = step
    for ev in events:
        if stepping and isinstance(ev, (tr.LLMResponse, tr.EndEvent)):
            if seen_turn:
                err_console.print("[dim]— Enter: next turn · q: play to the end —[/]", end="")
                try:
                    line = sys.stdin.readline()
                except (UnicodeDecodeError, OSError):  # bytes that are not text: play to the end
                    line = ""
                if not line or line.strip().lower() == "q":  # EOF or q: stop pausing
                    stepping = False
            seen_turn = True
        if speed > 0 and prev_t is not None and ev.t > prev_t:
            time.sleep(min((ev.t - prev_t) / speed, MAX_GAP_S))
        prev_t = ev.t if prev_t is None else max(prev_t, ev.t)
        view(ev)
    if not any(isinstance(e, tr.EndEvent) for e in events) and not problem:
        err_console.print("[yellow]note:[/] the transcript has no end event: the run was killed, interrupted, "
                          "or is still going.")


def replay_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="A transcript (.jsonl) written by `tracr-agent run`."),
    step: bool = typer.Option(False, "--step", help="Wait for Enter (on stdin) between turns."),
    speed: float = typer.Option(0.0, "--speed", help="Play back in time, X times faster (0: no waiting)."),
    only: Optional[str] = typer.Option(None, "--only", help="Show only tools, llm or human events."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show full tool outputs."),
    rerun: bool = typer.Option(False, "--rerun", help="Re-execute every recorded tool call against a freshly "
                                                     "loaded subject and compare with the recorded results."),
    plain: bool = PlainOpt,
    sample: Optional[str] = typer.Option(None, "--sample", help="For an Inspect log: only sample ID (or ID:EPOCH)."),
    model_dir: Optional[str] = typer.Option(None, "--model-dir", help="--rerun of a model directory's or a program's "
                                            "transcript: the model to re-execute on (checked by fingerprint first)."),
):
    """Replay a saved transcript as the live view showed it, or re-execute its tool calls (--rerun).
    FILE may also be an Inspect AI log (.eval/.json) of tracr_agent/interp: each sample is one episode."""
    from tracr_agent.agent.cli.main import fail
    from tracr_agent.agent.integrations.inspect_log import is_inspect_log

    if only is not None and only not in ONLY_CHOICES:
        fail(f"--only takes one of: {', '.join(ONLY_CHOICES)} (got {only!r})")
    import math

    if not math.isfinite(speed) or (speed != 0 and not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]):
        fail(f"--speed must be 0 (no waiting) or between {SPEED_RANGE[0]:g} and {SPEED_RANGE[1]:g} "
             f"times the episode's own pace (got {speed!r})")
    from tracr_agent.agent.episode.reading import load_events

    path = Path(file)
    if model_dir and not rerun:
        fail("--model-dir names the model a --rerun re-executes on: give it with --rerun")
    if is_inspect_log(path):
        raise typer.Exit(_replay_inspect_log(path, sample, rerun, model_dir, step=step, speed=speed, only=only,
                                             verbose=verbose, plain=plain))
    if sample is not None:
        fail("--sample is for an Inspect log (.eval/.json); a transcript holds one episode")
    if rerun:
        raise typer.Exit(rerun_transcript(path, model_dir))
    events, problem = load_events(path)
    _render(events, problem, step=step, speed=speed, only=only, verbose=verbose, plain=plain)
    if problem:
        fail(f"{problem}; the {len(events)} valid event(s) before it are shown above")


def _replay_inspect_log(path: Path, sample: Optional[str], rerun: bool, model_dir: Optional[str], **render) -> int:
    """Each episode of an Inspect log, rendered or re-executed in turn; the worst exit code."""
    from tracr_agent.agent.cli.main import console, err_console
    from tracr_agent.agent.integrations.inspect_log import log_episodes
    from tracr_agent.tools.untrusted.text import markup

    code, notes = 0, []
    for ep in log_episodes(path, sample, notes):
        console.rule(f"[bold]{markup(path.name)} · sample {markup(ep.sample)}[/]")
        if rerun:
            code = max(code, rerun_events(ep.events, None, f"{path.name} sample {ep.sample}", model_dir))
        else:
            _render(ep.events, None, **render)
    for note in notes:
        err_console.print(f"[yellow]warning:[/] {markup(note)}", highlight=False, soft_wrap=True)
    return code


# -- rerun --------------------------------------------------------------------------------------


def rerun_spec(header, model_dir: Optional[str] = None):
    """The subject a rerun loads: only a zoo or generated task the header names (our own code builds
    it), or the model directory the user names with --model-dir — never a program file or a folder the
    transcript names, which would run or read whatever its author chose. The header's transform, if
    any, is applied to either."""
    from tracr_agent.agent.records.transcript import TranscriptError
    from tracr_agent.tools.subjects.spec import SubjectSpec, names_a_path, transform_suffix

    ref = header.subject
    if model_dir:  # only the transform is read from the header's text: no path it names is searched
        return SubjectSpec.from_options(model_dir=model_dir).model_copy(
            update={"transform": transform_suffix(ref.spec or "")})
    if ref.kind == "task" and not names_a_path(ref.spec or "") and not names_a_path(ref.task_id or ""):
        return ref.subject_spec()
    what = {"program": "a RASP program", "model_dir": "a model directory"}.get(ref.kind, "not a task")
    raise TranscriptError(
        f"the transcript's subject is {what} ({ref.source or ref.spec}): a rerun builds only zoo and generated "
        "tasks by itself; name the model with --model-dir DIR (for a program, write one first with "
        "`tracr-agent compile --program FILE.py:FUNC --out DIR`)")


def load_recorded_subject(header, model_dir: Optional[str] = None):
    """The transcript's subject, loaded afresh (`rerun_spec`), with its fingerprint checked before any
    tool runs."""
    from tracr_agent.agent.cli.main import err_console
    from tracr_agent.agent.records.transcript import TranscriptError

    ref = header.subject
    spec = rerun_spec(header, model_dir)
    with err_console.status("loading subject…"):
        subject = spec.load()
    if subject.fingerprint != ref.fingerprint:
        raise TranscriptError(
            f"subject fingerprint mismatch: the transcript recorded {ref.fingerprint}, the freshly loaded "
            f"{spec} is {subject.fingerprint} (the model changed since the recording; "
            "re-running its tool calls would compare different models)")
    return subject


def plan_rerun(events) -> list[dict]:
    """Pairs each recorded tool call with its result and decides whether to re-execute it."""
    from tracr_agent.agent.records import transcript as tr

    denied = {e.call_id for e in events if isinstance(e, tr.HumanEvent) and e.action == "deny" and e.call_id}
    rows: list[dict] = []
    pending: dict[str, dict] = {}
    for ev in events:
        if isinstance(ev, tr.ToolCallEvent):
            row = {"step": ev.step, "call_id": ev.call_id, "name": ev.name, "args": ev.args,
                   "recorded": None, "skip": None}
            rows.append(row)
            pending[ev.call_id] = row
        elif isinstance(ev, tr.ToolResultEvent):
            row = pending.pop(ev.call_id, None)
            if row is None:
                continue
            row["recorded"] = ev.text
            row["origin"] = tr.result_origin(ev)
    for row in rows:
        if row["call_id"] in denied:
            row["skip"] = "denied by the user"
        elif row["recorded"] is None:
            row["skip"] = "no recorded result"
        elif row["origin"] != "tool":
            row["skip"] = SKIP_REASONS[row["origin"]]
    return rows


def rerun_transcript(path: Path, model_dir: Optional[str] = None) -> int:
    """Re-executes the recorded tool calls; returns the exit code (0 only when every call matches)."""
    from tracr_agent.agent.episode.reading import load_events

    events, problem = load_events(path)
    return rerun_events(events, problem, path.name, model_dir)


def rerun_events(events, problem: Optional[str], name: str, model_dir: Optional[str] = None) -> int:
    """`rerun_transcript` on loaded events (a transcript's, or an Inspect log sample's)."""
    import difflib

    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    from tracr_agent.agent.cli.main import console, err_console
    from tracr_agent.tools.suite.base import ToolContext, call_tool
    from tracr_agent.tools.untrusted.text import markup, shown

    header = events[0]
    subject = load_recorded_subject(header, model_dir)
    ctx = ToolContext(condition=header.condition, cap_tokens=header.cap_tokens, residual=header.residual,
                      seed=header.seed)
    rows = plan_rerun(events)
    for row in rows:
        if row["skip"] is None:
            row["text"] = call_tool(subject, row["name"], row["args"], ctx).text
            row["match"] = row["text"] == row["recorded"]

    table = Table(title=Text(shown(f"rerun of {name} · {header.subject.name} · "
                                   f"condition {header.condition} · cap {header.cap_tokens} tokens")))
    for col in ("step", "call", "tool", "match"):
        table.add_column(col, justify="right" if col == "step" else "left")
    for row in rows:
        if row["skip"]:
            verdict = f"[dim]skipped ({row['skip']})[/]"
        else:
            verdict = "[green]yes[/]" if row["match"] else "[bold red]NO[/]"
        table.add_row(str(row["step"]), Text(shown(row["call_id"])), Text(shown(row["name"])), verdict)
    console.print(table)

    bad = [r for r in rows if r["skip"] is None and not r["match"]]
    for r in bad:
        console.rule(f"[red]mismatch at step {r['step']}: {markup(r['name'])} ({markup(r['call_id'])})[/]")
        diff = "".join(difflib.unified_diff(
            r["recorded"].splitlines(keepends=True), r["text"].splitlines(keepends=True),
            fromfile=f"recorded (step {r['step']})", tofile="re-executed", n=2))
        console.print(Syntax(shown(diff.rstrip("\n")), "diff", theme="ansi_dark", word_wrap=True))
    n_run = sum(r["skip"] is None for r in rows)
    n_skip = len(rows) - n_run
    summary = f"{n_run} tool call(s) re-executed: {n_run - len(bad)} match, {len(bad)} differ; {n_skip} skipped"
    if bad:
        summary += " — mismatch at step(s) " + ", ".join(str(s) for s in sorted({r["step"] for r in bad}))
    console.print(summary, style="bold red" if bad else "bold green", highlight=False)
    if problem:
        err_console.print(f"[bold red]error:[/] {markup(problem, one_line=True)}; only the calls before it were re-executed",
                          highlight=False, soft_wrap=True)
        return 2
    return 1 if bad else 0


# -- transcripts (formerly inspect) -------------------------------------------------------------------


def _mark(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


# Cells are plain text; colour comes from the cell's value.
_STYLES = {"yes": "green", "no": "red", "prediction": "green", "no_prediction": "yellow"}
RENAMED = ("`tracr-agent inspect` is now `tracr-agent transcripts` (Inspect AI's command is also called "
           "inspect); this old name still works for now")


def transcripts_cmd(
    directory: str = typer.Argument(..., metavar="DIR", help="A directory holding transcripts (searched recursively)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: a JSON list of objects."),
):
    """List the transcripts under DIR: subject, condition, LLM, tool calls, tokens, prediction, score."""
    from tracr_agent.agent.cli.main import console, err_console, fail
    from tracr_agent.agent.episode.reading import summarize_transcript
    from tracr_agent.agent.render.tables import print_table
    from tracr_agent.agent.records.transcript import TranscriptError

    root = Path(directory)
    if not root.is_dir():
        fail(f"{root} is not a directory")
    rows, skipped = [], 0
    for p in sorted(root.rglob("*.jsonl")):
        if not p.is_file():
            continue
        try:
            rows.append(summarize_transcript(p, root))
        except (TranscriptError, OSError):
            skipped += 1
    note = f"{len(rows)} transcript(s)" + (f"; {skipped} other .jsonl file(s) skipped" if skipped else "")
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        if skipped:
            err_console.print(note, style="dim", markup=False)
        return
    names = [Path(r["file"]).name for r in rows]
    unique = len(set(names)) == len(names)  # the bare file name when unambiguous; the full path is in --json
    actors = len({r["actor"] for r in rows}) > 1  # a column only when it varies
    cols = ["file", "task", "condition", "LLM"] + (["actor"] if actors else []) + [
        "calls", "tokens", "prediction", "label", "impl", "secs", "status"]
    cells = [[name if unique else r["file"], r["subject"] or "-", r["condition"], r["llm"]]
             + ([r["actor"]] if actors else [])
             + [str(r["tool_calls"]), str(r["tokens"]), r["prediction"] or "-", _mark(r["label_correct"]),
                _mark(r["functional_correct"]), f"{r['duration_s']:.1f}", r["status"]] for r, name in zip(rows, names)]
    print_table(console, f"transcripts under {root}", cols, cells, caption=note,
                right=frozenset({"calls", "tokens", "secs"}),
                style=lambda col, v: _STYLES.get(v, "") if col in ("label", "impl") else
                _STYLES.get(v, "red") if col == "status" else "")


def inspect_alias(
    directory: str = typer.Argument(..., metavar="DIR", help="A directory holding transcripts (searched recursively)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: a JSON list of objects."),
):
    """The old name of `transcripts` (renamed: Inspect AI's command is also `inspect`)."""
    from tracr_agent.agent.cli.main import err_console

    err_console.print(f"note: {RENAMED}", style="yellow", highlight=False, markup=False, soft_wrap=True)
    transcripts_cmd(directory, as_json)


# -- export -------------------------------------------------------------------------------------


def check_destination(dest: Path, source: Path) -> None:
    """Refuses (one line) to write a document over its source itself, over an existing .jsonl file (a
    transcript or a results.jsonl: the records a document is made from), or over a symlink or anything but
    a regular file (tools/untrusted/files.py `check_target`)."""
    from tracr_agent.agent.cli.main import fail
    from tracr_agent.tools.untrusted.files import check_target

    if dest.resolve() == source.resolve():
        fail(f"refusing to overwrite {source} itself: give --out a new .html or .md path")
    if dest.suffix == ".jsonl" and dest.exists():
        fail(f"refusing to overwrite {dest}: it holds records (a transcript or results.jsonl); "
             "give --out a new .html or .md path")
    check_target(dest, "the document")


def write_document(dest: Path, doc: str, source: Path) -> None:
    """Writes `doc` to `dest` (creating its folder) through a temporary file and a rename, after
    `check_destination`; never over a symlink or anything but a regular file (tools/untrusted/files.py);
    one line on failure."""
    from tracr_agent.tools.untrusted.files import write_atomic

    check_destination(dest, source)
    write_atomic(dest, doc)


def export_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="A transcript (.jsonl); for --format inspect also an "
                                                         "evaluation directory."),
    fmt: str = typer.Option("md", "--format", "-f", help="md, html, or inspect (an Inspect AI log for `inspect view`)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output path (default: FILE with .md/.html/.eval; "
                                                                "DIR/inspect/ for an evaluation directory)."),
):
    """Write a readable document of an episode (turns, tool calls and results, prediction, score), or
    Inspect AI logs of a transcript or an evaluation directory (--format inspect)."""
    from tracr_agent.agent.cli.main import console, err_console, fail
    from tracr_agent.agent.episode.reading import load_events
    from tracr_agent.agent.render.document import episode_blocks, to_markdown
    from tracr_agent.agent.render.html.page import episode_page

    if fmt not in ("md", "html", "inspect"):
        fail(f"--format takes md, html or inspect (got {fmt!r})")
    path = Path(file)
    if fmt == "inspect":
        from tracr_agent.agent.integrations.inspect_export import export_inspect

        for dest in export_inspect(path, Path(out) if out else None):
            console.print(f"wrote {dest}", highlight=False, markup=False)
        return
    events, problem = load_events(path)
    blocks = episode_blocks(events, problem)
    doc = to_markdown(blocks) if fmt == "md" else episode_page(blocks)
    dest = Path(out) if out else path.with_suffix("." + fmt)
    write_document(dest, doc, path)
    if problem:
        err_console.print(f"warning: {problem}; exported the events before it", style="yellow", markup=False,
                          highlight=False)
    console.print(f"wrote {dest}", highlight=False, markup=False)


# -- view ---------------------------------------------------------------------------------------


def default_view_path(path: Path) -> Path:
    """DIR/view.html for an eval directory or a folder of transcripts; FILE.view.html next to a transcript."""
    return path / "view.html" if path.is_dir() else path.with_suffix(".view.html")


def view_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="An eval directory, a folder of transcripts, or one "
                                                         "transcript."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="The HTML file to write (default: DIR/view.html, "
                                                                "or FILE.view.html for one transcript)."),
    open_it: bool = typer.Option(False, "--open", help="Open the file in the default browser."),
):
    """Write one self-contained HTML page to browse a batch: accuracy heatmap, filterable episode list, each
    episode's timeline with attention heatmaps, residual decodes and ablation effects drawn as pictures."""
    from tracr_agent.agent.cli.main import console, err_console
    from tracr_agent.agent.render.html.page import viewer_page
    from tracr_agent.agent.render.html.sources import load

    src = Path(path)
    batch = load(src)
    dest = Path(out) if out else default_view_path(src)
    check_destination(dest, src)
    write_document(dest, viewer_page(batch, dest, workers=os.cpu_count() or 1), src)
    for note in batch.notes:
        err_console.print(f"warning: {note}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {dest} ({len(batch.episodes)} episode(s))", highlight=False, markup=False, soft_wrap=True)
    if open_it:
        import webbrowser

        if not webbrowser.open(dest.resolve().as_uri()):
            err_console.print(f"warning: no browser could be started; open {dest} yourself", style="yellow",
                              markup=False, highlight=False)


# -- registration -------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    from tracr_agent.agent.cli.main import user_errors

    app.command("replay")(user_errors(replay_cmd))
    app.command("transcripts")(user_errors(transcripts_cmd))
    app.command("inspect", hidden=True)(user_errors(inspect_alias))
    app.command("export")(user_errors(export_cmd))
    app.command("view")(user_errors(view_cmd))
