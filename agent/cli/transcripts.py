"""Transcript commands: `replay` (render or re-execute), `inspect` (list a directory), `export` (md/html).

Registered on the main typer app by `tracr_agent.agent.cli.main._register_more()`. Every heavy
import stays inside a function so `tracr-agent --help` stays instant. User
errors (a missing, corrupt or foreign file; an unknown schema version; a
subject whose fingerprint changed) print one `error: …` line and exit non-zero.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

import typer

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


# -- reading ------------------------------------------------------------------------------------


def load_events(path: Path, strict: bool = False):
    """(events, problem) like `read_transcript`, but a file without a single valid event is refused
    as not being a transcript (rather than reported as a corrupt line 1)."""
    from tracr_agent.agent.episode.transcript import TranscriptError, read_transcript

    path = Path(path)
    if path.is_dir():
        raise TranscriptError(f"{path} is a directory, not a transcript file (`tracr-agent inspect DIR` lists one)")
    events, problem = read_transcript(path, strict=False)
    if not events:
        why = " (its first line is not a valid header event)" if problem else " (the file is empty)"
        raise TranscriptError(f"{path} is not a tracr-agent transcript{why}")
    if problem and strict:
        raise TranscriptError(problem)
    return events, problem


def _summary(path: Path, root: Optional[Path] = None) -> dict:
    from tracr_agent.agent.episode import transcript as tr

    events, problem = load_events(path)
    header: tr.Header = events[0]
    end = next((e for e in events if isinstance(e, tr.EndEvent)), None)
    pred = next((e for e in events if isinstance(e, tr.PredictionEvent)), None)
    score = next((e for e in events if isinstance(e, tr.ScoreEvent)), None)
    tokens = sum(e.usage.input_tokens + e.usage.output_tokens for e in events if isinstance(e, tr.LLMResponse))
    n_calls = sum(isinstance(e, tr.ToolCallEvent) for e in events)
    label_ok = functional_ok = None
    if score is not None:
        label_ok = (score.score.get("label") or {}).get("correct")
        functional_ok = (score.score.get("functional") or {}).get("correct")
    if end is not None:
        status = end.status
        duration = end.duration_s
        n_calls = end.tool_calls or n_calls
        tokens = end.tokens or tokens
    else:
        status = "corrupt" if problem else "incomplete"
        duration = max((e.t for e in events), default=0.0)
    return {
        "file": str(path.relative_to(root)) if root else str(path),
        "task": header.subject.task_id,
        "subject": header.subject.task_id or header.subject.fingerprint,
        "fingerprint": header.subject.fingerprint,
        "condition": header.condition,
        "llm": header.llm,
        "actor": header.actor,
        "created": header.created,
        "tool_calls": n_calls,
        "tokens": tokens,
        "prediction": pred.label if pred else None,
        "label_correct": label_ok,
        "functional_correct": functional_ok,
        "duration_s": round(duration, 2),
        "status": status,
        "problem": problem,
    }


# -- replay -------------------------------------------------------------------------------------


def _render(events, problem: Optional[str], *, step: bool, speed: float, only: Optional[str], verbose: bool) -> None:
    from tracr_agent.agent.episode import transcript as tr
    from tracr_agent.agent.cli.main import console, err_console
    from tracr_agent.agent.render.live import LiveView

    view = LiveView(console, verbose=verbose, only=only)
    prev_t = None
    seen_turn = False
    stepping = step
    for ev in events:
        if stepping and isinstance(ev, (tr.LLMResponse, tr.EndEvent)):
            if seen_turn:
                err_console.print("[dim]— Enter: next turn · q: play to the end —[/]", end="")
                line = sys.stdin.readline()
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
):
    """Replay a saved transcript as the live view showed it, or re-execute its tool calls (--rerun)."""
    from tracr_agent.agent.cli.main import fail

    if only is not None and only not in ONLY_CHOICES:
        fail(f"--only takes one of: {', '.join(ONLY_CHOICES)} (got {only!r})")
    if speed < 0:
        fail("--speed must be >= 0 (0 means no waiting)")
    path = Path(file)
    if rerun:
        raise typer.Exit(rerun_transcript(path))
    events, problem = load_events(path)
    _render(events, problem, step=step, speed=speed, only=only, verbose=verbose)
    if problem:
        fail(f"{problem}; the {len(events)} valid event(s) before it are shown above")


# -- rerun --------------------------------------------------------------------------------------


def load_recorded_subject(header):
    """The transcript's subject, loaded afresh, with its fingerprint checked."""
    from tracr_agent.agent.cli.main import err_console
    from tracr_agent.agent.episode.transcript import TranscriptError
    from tracr_agent.tools.subjects.load import load_subject

    ref = header.subject
    if ref.kind == "task":
        if not ref.task_id:
            raise TranscriptError("the header names a task subject without a task_id: cannot reload it")
        kwargs = {"task": ref.task_id}
    else:
        source = ref.source
        prog_file = source.rpartition(":")[0]
        if ref.kind == "program" and prog_file.endswith(".py") and Path(prog_file).is_file():
            kwargs = {"program": source}
        elif source and Path(source).is_dir():
            kwargs = {"model_dir": source}  # a model directory, or a compiled program's cache entry
        else:
            raise TranscriptError(f"cannot reload the {ref.kind} subject: its recorded source {source!r} "
                                  "no longer exists")
    with err_console.status("loading subject…"):
        subject = load_subject(**kwargs)
    if subject.fingerprint != ref.fingerprint:
        raise TranscriptError(
            f"subject fingerprint mismatch: the transcript recorded {ref.fingerprint}, the freshly loaded "
            f"{next(iter(kwargs.values()))} is {subject.fingerprint} (the model changed since the recording; "
            "re-running its tool calls would compare different models)")
    return subject


def plan_rerun(events) -> list[dict]:
    """Pairs each recorded tool call with its result and decides whether to re-execute it."""
    from tracr_agent.agent.episode import transcript as tr

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


def rerun_transcript(path: Path) -> int:
    """Re-executes the recorded tool calls; returns the exit code (0 only when every call matches)."""
    import difflib

    from rich.syntax import Syntax
    from rich.table import Table

    from tracr_agent.agent.cli.main import console, err_console
    from tracr_agent.tools.suite.base import ToolContext, call_tool

    events, problem = load_events(path)
    header = events[0]
    subject = load_recorded_subject(header)
    ctx = ToolContext(condition=header.condition, cap_tokens=header.cap_tokens, residual=header.residual)
    rows = plan_rerun(events)
    for row in rows:
        if row["skip"] is None:
            row["text"] = call_tool(subject, row["name"], row["args"], ctx).text
            row["match"] = row["text"] == row["recorded"]

    table = Table(title=f"rerun of {path.name} · {header.subject.task_id or header.subject.fingerprint} · "
                        f"condition {header.condition} · cap {header.cap_tokens} tokens")
    for col in ("step", "call", "tool", "match"):
        table.add_column(col, justify="right" if col == "step" else "left")
    for row in rows:
        if row["skip"]:
            verdict = f"[dim]skipped ({row['skip']})[/]"
        else:
            verdict = "[green]yes[/]" if row["match"] else "[bold red]NO[/]"
        table.add_row(str(row["step"]), row["call_id"], row["name"], verdict)
    console.print(table)

    bad = [r for r in rows if r["skip"] is None and not r["match"]]
    for r in bad:
        console.rule(f"[red]mismatch at step {r['step']}: {r['name']} ({r['call_id']})[/]")
        diff = "".join(difflib.unified_diff(
            r["recorded"].splitlines(keepends=True), r["text"].splitlines(keepends=True),
            fromfile=f"recorded (step {r['step']})", tofile="re-executed", n=2))
        console.print(Syntax(diff.rstrip("\n"), "diff", theme="ansi_dark", word_wrap=True))
    n_run = sum(r["skip"] is None for r in rows)
    n_skip = len(rows) - n_run
    summary = f"{n_run} tool call(s) re-executed: {n_run - len(bad)} match, {len(bad)} differ; {n_skip} skipped"
    if bad:
        summary += " — mismatch at step(s) " + ", ".join(str(s) for s in sorted({r["step"] for r in bad}))
    console.print(summary, style="bold red" if bad else "bold green", highlight=False)
    if problem:
        err_console.print(f"[bold red]error:[/] {problem}; only the calls before it were re-executed",
                          highlight=False, soft_wrap=True)
        return 2
    return 1 if bad else 0


# -- inspect ------------------------------------------------------------------------------------


def _mark(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


# Cells are plain text (their widths are measured); colour comes from the cell's value.
_STYLES = {"yes": "green", "no": "red", "prediction": "green", "no_prediction": "yellow"}


def _fit_widths(cols, cells, total: int, free: dict[str, int]) -> list[int]:
    """Column widths that fit `total` (one space between columns): the short columns keep their
    natural width; the free-text ones (name -> floor) give way, the widest first, down to their floor."""
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    excess = sum(widths) + len(cols) - 1 - total
    while excess > 0:
        shrinkable = [i for i, c in enumerate(cols) if c in free and widths[i] > free[c]]
        if not shrinkable:
            break  # narrower than the floors allow: rich crops the right edge
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        excess -= 1
    return widths


def inspect_cmd(
    directory: str = typer.Argument(..., metavar="DIR", help="A directory holding transcripts (searched recursively)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: a JSON list of objects."),
):
    """List the transcripts under DIR: subject, condition, LLM, tool calls, tokens, prediction, score."""
    from rich.table import Table
    from rich.text import Text

    from tracr_agent.agent.cli.main import console, err_console, fail
    from tracr_agent.agent.episode.transcript import TranscriptError

    root = Path(directory)
    if not root.is_dir():
        fail(f"{root} is not a directory")
    rows, skipped = [], 0
    for p in sorted(root.rglob("*.jsonl")):
        if not p.is_file():
            continue
        try:
            rows.append(_summary(p, root))
        except (TranscriptError, OSError):
            skipped += 1
    note = f"{len(rows)} transcript(s)" + (f"; {skipped} other .jsonl file(s) skipped" if skipped else "")
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        if skipped:
            err_console.print(f"[dim]{note}[/]")
        return
    from rich import box

    table = Table(title=f"transcripts under {root}", caption=note, box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 0), show_edge=False)
    names = [Path(r["file"]).name for r in rows]
    unique = len(set(names)) == len(names)  # the bare file name when unambiguous; the full path is in --json
    cells = []
    for r, name in zip(rows, names):
        cells.append([name if unique else r["file"], r["subject"] or "-", r["condition"], r["llm"], r["actor"],
                      str(r["tool_calls"]), str(r["tokens"]), r["prediction"] or "-", _mark(r["label_correct"]),
                      _mark(r["functional_correct"]), f"{r['duration_s']:.1f}", r["status"]])
    cols = ("file", "task", "condition", "LLM", "actor", "calls", "tokens", "prediction", "label", "impl", "secs",
            "status")
    widths = _fit_widths(cols, cells, console.width, free={"file": 12, "task": 4, "condition": 4, "LLM": 4,
                                                           "prediction": 4, "status": 10})
    # One line per transcript at any width: long cells end in "…" instead of wrapping.
    for col, w in zip(cols, widths):
        table.add_column(col, justify="right" if col in ("calls", "tokens", "secs") else "left", no_wrap=True,
                         overflow="ellipsis", max_width=w)
    for row in cells:
        table.add_row(*row[:8], *(Text(c, style=_STYLES.get(c, "")) for c in row[8:10]), row[10],
                      Text(row[11], style=_STYLES.get(row[11], "red")))
    console.print(table)


# -- export -------------------------------------------------------------------------------------


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _args_json(args) -> str:
    return args if isinstance(args, str) else json.dumps(args, indent=1, ensure_ascii=False)


def _score_text(score: dict) -> list[str]:
    out = []
    lab = score.get("label")
    if lab is not None:
        out.append(f"label: {'correct' if lab.get('correct') else 'wrong'}")
    fn = score.get("functional")
    if fn is not None:
        line = (f"implementation: {'correct' if fn.get('correct') else 'wrong'} "
                f"({100 * (fn.get('agreement') or 0):.1f}% of {fn.get('n_inputs', 0)} inputs)")
        if fn.get("error"):
            line += f"; {fn['error']}"
        out.append(line)
    judge = score.get("judge")
    if judge is not None:
        out.append(f"judge: {'yes' if judge.get('correct') else 'no'} ({judge.get('model')})")
    return out or ["not scored"]


def _blocks(events, problem: Optional[str]) -> list[tuple]:
    """The document as neutral blocks: (kind, payload). Both renderers walk this list."""
    from tracr_agent.agent.episode import transcript as tr

    h: tr.Header = events[0]
    end = next((e for e in events if isinstance(e, tr.EndEvent)), None)
    facts = [("subject", h.subject.task_id or "(not a zoo task)"), ("fingerprint", h.subject.fingerprint),
             ("subject kind", h.subject.kind), ("condition", h.condition), ("LLM", h.llm), ("actor", h.actor),
             ("closed set", "yes" if h.closed_set else "no"), ("created", h.created),
             ("tracr-agent", h.tracr_agent_version), ("tool-output cap", f"{h.cap_tokens} tokens"),
             ("limits", ", ".join(f"{k}={v}" for k, v in h.limits.items()) or "-")]
    if h.closed_world:
        facts.append(("closed world", "yes: the investigator knows the zoo's reference functions (a lookup)"))
    if h.unsafe_sandbox:
        facts.append(("sandbox", "UNSAFE: scored without OS-level isolation (--unsafe-sandbox)"))
    if end is not None:
        facts += [("status", end.status), ("tool calls", str(end.tool_calls)), ("LLM turns", str(end.llm_turns)),
                  ("tokens", str(end.tokens)), ("cost", f"${end.cost:.4f}"), ("duration", f"{end.duration_s:.1f} s")]
    else:
        facts.append(("status", "incomplete (no end event)"))
    title = f"tracr-agent episode: {h.subject.task_id or h.subject.fingerprint} · {h.condition} · {h.llm}"
    blocks: list[tuple] = [("title", title), ("facts", facts)]
    if problem:
        blocks.append(("warning", f"The transcript is damaged: {problem}. Only the events before it are shown."))
    first_request = True
    for ev in events[1:]:
        if isinstance(ev, tr.LLMRequest):
            if first_request:
                first_request = False
                for m in ev.messages:
                    blocks.append(("details", f"{m.get('role', '?')} prompt", m.get("content", "")))
            else:
                for m in ev.messages:
                    if m.get("role") == "user":
                        blocks.append(("note", f"message to the agent (t={ev.t:.1f}s): {m.get('content', '')}"))
        elif isinstance(ev, tr.LLMResponse):
            u = ev.usage
            blocks.append(("h2", f"Turn {ev.step}"))
            blocks.append(("meta", f"t={ev.t:.1f}s · {u.input_tokens} in / {u.output_tokens} out tokens · "
                                   f"{ev.latency_ms:.0f} ms" + (f" · ${ev.cost:.4f}" if ev.cost else "")))
            if ev.text.strip():
                blocks.append(("text", ev.text.strip()))
        elif isinstance(ev, tr.ToolCallEvent):
            blocks.append(("h3", f"→ {ev.name}  (call {ev.call_id})"))
            blocks.append(("code", _args_json(ev.args), "json"))
        elif isinstance(ev, tr.ToolResultEvent):
            blocks.append(("meta", f"result of {ev.name}" + (" (error)" if ev.is_error else "")
                           + f" · {ev.latency_ms:.0f} ms"))
            blocks.append(("code", ev.text, ""))
        elif isinstance(ev, tr.LimitEvent):
            blocks.append(("note", f"Limit reached: {ev.limit} ({ev.value:g}); the agent must commit now."))
        elif isinstance(ev, tr.HumanEvent):
            extra = f" {json.dumps(ev.args, ensure_ascii=False)}" if ev.args is not None else ""
            target = f" on {ev.call_id}" if ev.call_id else ""
            blocks.append(("note", f"Human {ev.action}{target}: {ev.text}{extra}".rstrip(": ")))
        elif isinstance(ev, tr.PredictionEvent):
            blocks.append(("h2", "Prediction" + (" (forced)" if ev.forced else "")))
            blocks.append(("facts", [("label", ev.label), ("confidence", f"{ev.confidence:g}"),
                                     ("description", ev.description)]))
            blocks.append(("code", ev.implementation, "python"))
        elif isinstance(ev, tr.ScoreEvent):
            blocks.append(("h2", "Score"))
            blocks.append(("list", _score_text(ev.score)))
        elif isinstance(ev, tr.ErrorEvent):
            blocks.append(("warning", f"Error ({ev.where or 'episode'}): {ev.message}"))
        elif isinstance(ev, tr.EndEvent):
            blocks.append(("meta", f"end: {ev.status} after {ev.duration_s:.1f} s"))
    return blocks


def to_markdown(blocks) -> str:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "title":
            out.append(f"# {b[1]}")
        elif kind == "facts":
            out.append("| | |\n|---|---|\n" + "\n".join(
                f"| {k} | {str(v).replace('|', chr(92) + '|').replace(chr(10), ' ')} |" for k, v in b[1]))
        elif kind == "h2":
            out.append(f"## {b[1]}")
        elif kind == "h3":
            out.append(f"### {b[1]}")
        elif kind == "meta":
            out.append(f"*{b[1]}*")
        elif kind == "text":
            out.append("\n".join("> " + line if line else ">" for line in b[1].splitlines()))
        elif kind == "code":
            out.append(_fence(b[1], b[2]))
        elif kind in ("note", "warning"):
            out.append(("**Warning:** " if kind == "warning" else "**Note:** ") + b[1])
        elif kind == "list":
            out.append("\n".join(f"- {x}" for x in b[1]))
        elif kind == "details":
            out.append(f"<details><summary>{b[1]}</summary>\n\n{_fence(b[2], 'text')}\n\n</details>")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1rem; }
table.facts td:first-child { font-weight: 600; padding-right: 1rem; vertical-align: top; }
pre { background: #f5f5f7; padding: .75rem; overflow-x: auto; border-radius: 4px; font-size: .85rem; }
.meta { color: #666; font-size: .85rem; } .text { border-left: 3px solid #2a7ae2; padding-left: .75rem; }
.note { background: #f0f6ff; padding: .5rem; } .warning { background: #fff0f0; padding: .5rem; color: #a00; }
details { margin: .5rem 0; } summary { cursor: pointer; color: #444; }
"""


def to_html(blocks) -> str:
    from html import escape

    title = next((b[1] for b in blocks if b[0] == "title"), "tracr-agent episode")
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>"]
    for b in blocks:
        kind = b[0]
        if kind == "title":
            out.append(f"<h1>{escape(b[1])}</h1>")
        elif kind == "facts":
            out.append('<table class="facts">' + "".join(
                f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>" for k, v in b[1]) + "</table>")
        elif kind == "h2":
            out.append(f"<h2>{escape(b[1])}</h2>")
        elif kind == "h3":
            out.append(f"<h3>{escape(b[1])}</h3>")
        elif kind == "meta":
            out.append(f'<p class="meta">{escape(b[1])}</p>')
        elif kind == "text":
            out.append(f'<div class="text">{"<br>".join(escape(x) for x in b[1].splitlines())}</div>')
        elif kind == "code":
            lang = f' class="language-{escape(b[2])}"' if b[2] else ""
            out.append(f"<pre><code{lang}>{escape(b[1].rstrip())}</code></pre>")
        elif kind in ("note", "warning"):
            out.append(f'<p class="{kind}">{escape(b[1])}</p>')
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{escape(x)}</li>" for x in b[1]) + "</ul>")
        elif kind == "details":
            out.append(f"<details><summary>{escape(b[1])}</summary><pre><code>{escape(b[2].rstrip())}"
                       "</code></pre></details>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def export_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="A transcript (.jsonl)."),
    fmt: str = typer.Option("md", "--format", "-f", help="md or html."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output path (default: FILE with .md/.html)."),
):
    """Write a readable document of an episode: turns, tool calls and results, prediction, score."""
    from tracr_agent.agent.cli.main import console, err_console, fail

    if fmt not in ("md", "html"):
        fail(f"--format takes md or html (got {fmt!r})")
    path = Path(file)
    events, problem = load_events(path)
    blocks = _blocks(events, problem)
    doc = to_markdown(blocks) if fmt == "md" else to_html(blocks)
    dest = Path(out) if out else path.with_suffix("." + fmt)
    if dest.resolve() == path.resolve():
        fail(f"refusing to overwrite the transcript itself: give another --out than {path}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(doc, encoding="utf-8")
    except OSError as e:
        fail(f"cannot write {dest}: {e.strerror or e}")
    if problem:
        err_console.print(f"[yellow]warning:[/] {problem}; exported the events before it", highlight=False)
    console.print(f"wrote {dest}", highlight=False)


# -- registration -------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    from tracr_agent.agent.cli.main import user_errors

    app.command("replay")(user_errors(replay_cmd))
    app.command("inspect")(user_errors(inspect_cmd))
    app.command("export")(user_errors(export_cmd))
