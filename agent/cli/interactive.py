"""Interactive commands: `resume` (continue a `run --interactive` session or a paused lab), `sessions`
(list the open ones) and `lab` (investigate by hand).

Registered on the main typer app by `tracr_agent.agent.cli.main._register_more()`; the work is
done in agent/interactive/ (session.py, lab.py, resume.py), imported when a command runs: start-up
time (`tracr-agent --help` must not load it).
"""

from __future__ import annotations

from typing import Optional

import typer

from tracr_agent.agent.cli.options import DEFAULT_OUT, CapOpt, ModelDirOpt, PlainOpt, ProgramOpt, ResidualOpt, ToolConditionOpt
from tracr_agent.tools.conditions import Residual


def resume_cmd(
    session: str = typer.Argument(..., help="The session id an interrupted `run`, `run --interactive` or `lab` "
                                  "printed (`tracr-agent sessions` lists them)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show full tool outputs."),
    plain: bool = PlainOpt,
):
    """Continue an interrupted run, an interactive session or a paused lab where it stopped; the transcript continues in the same file."""
    from tracr_agent.agent.cli.main import announce_sandbox, console, err_console
    from tracr_agent.agent.episode.store import peek

    row = peek(session)
    sandbox = None
    if row is not None and row[0] == "open" and row[1].get("kind") != "lab":
        # scored as the run was started: with its isolation (and as quiet as it was)
        meta = row[1]
        sandbox = lambda: announce_sandbox(bool(meta.get("unsafe_sandbox")), quiet=bool(meta.get("quiet")))  # noqa: E731
    from tracr_agent.agent.interactive.resume import resume_session

    raise typer.Exit(resume_session(session, verbose=verbose, console=console, plain=plain, err_console=err_console,
                                    on_start=sandbox))


def lab_cmd(
    task: Optional[str] = typer.Argument(None, help="Zoo task id (see `tracr-agent tasks`), generated id, or dir:PATH "
                                         "(one model directory, as --model-dir).", show_default=False),
    condition: str = ToolConditionOpt,
    transcript: Optional[str] = typer.Option(None, "--transcript", help="Exact transcript file path."),
    out: str = typer.Option(DEFAULT_OUT, "--out", help="Directory for the transcript (without --transcript)."),
    cap: int = CapOpt,
    program: Optional[str] = ProgramOpt,
    model_dir: Optional[str] = ModelDirOpt,
    residual: str = ResidualOpt,
    plain: bool = PlainOpt,
):
    """Investigate a subject yourself with the agent's tools (a REPL), then submit a prediction to be scored."""
    from pathlib import Path

    from tracr_agent.agent.cli.main import check_probe_options, console, fail, load_subject, subject_spec
    from tracr_agent.agent.episode.lifecycle import default_transcript_path
    from tracr_agent.agent.interactive.lab import start_lab
    from tracr_agent.agent.records.config import EpisodeConfig
    from tracr_agent.tools.conditions import get_condition, with_tools
    from tracr_agent.tools.untrusted.files import check_target

    check_probe_options(condition, residual, cap)
    if not get_condition(condition).has_tools:
        fail(f"the lab needs a condition with tools ({', '.join(with_tools())}); {condition!r} has none")
    spec = subject_spec(task, program, model_dir)
    subject = load_subject(spec)
    config = EpisodeConfig(subject=spec, condition=condition, residual=residual, llm="human", limits=None,
                           cap_tokens=cap)
    path = Path(transcript) if transcript else default_transcript_path(Path(out), subject, condition, "human")
    check_target(path, "the transcript")  # before a session row names it: a symlink or a device is one line
    raise typer.Exit(start_lab(subject, config, transcript_path=path, console=console, plain=plain))


def sessions_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """List the open sessions (interrupted runs, interactive runs and labs left to resume): subject, condition, age, where it stopped."""
    import json

    from rich.table import Table
    from rich.text import Text

    from tracr_agent.agent.cli.main import console
    from tracr_agent.agent.episode.store import fmt_age, open_sessions, sessions_db
    from tracr_agent.tools.untrusted.text import shown

    rows = open_sessions()
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        console.print(f"no open sessions (in {sessions_db()})", highlight=False, markup=False, soft_wrap=True)
        return
    table = Table(title=f"open sessions ({len(rows)}); continue one with: tracr-agent resume ID")
    for col in ("id", "kind", "subject", "condition", "LLM", "age", "where it stopped"):
        table.add_column(col, overflow="fold")
    for r in rows:
        cond = r["condition"] + (f" ({Residual.RAW})" if r["residual"] == Residual.RAW else "")
        where = r["where"] + (" · running now" if r["running"] else "")
        # the store's rows may hold anything a file held: text, never markup
        table.add_row(*(Text(shown(x)) for x in (r["id"], r["kind"], r["subject"], cond, r["llm"], fmt_age(r["age_s"]),
                                                  where)))
    console.print(table)


def register(app: typer.Typer) -> None:
    from tracr_agent.agent.cli.main import user_errors

    app.command("resume")(user_errors(resume_cmd))
    app.command("sessions")(user_errors(sessions_cmd))
    app.command("lab")(user_errors(lab_cmd))
