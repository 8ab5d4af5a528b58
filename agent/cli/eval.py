"""CLI commands for headless evaluation: eval, rescore, report.

Each command imports its machinery when it runs (start-up time: `tracr-agent --help` must not load it)."""

from __future__ import annotations

from typing import List, Optional

import typer

from tracr_agent.tools.conditions import Residual


def _split(values: Optional[List[str]]) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _table_console():
    """Headless runs (logs, pipes) get a wide console so the table is never squeezed."""
    from rich.console import Console

    from tracr_agent.agent.cli.main import console

    return console if console.is_terminal else Console(width=max(console.width, 170))


def _write_reports(out_dir, rows):
    """report.md/.html, plots and the batch viewer (view.html, which the reports' rows link into); a plot
    or a viewer that failed gets one warning line, the rest is written."""
    from pathlib import Path

    from rich.markup import escape

    from tracr_agent.agent.cli.main import err_console
    from tracr_agent.agent.evaluation.report import VIEW_FILE, write_reports
    from tracr_agent.agent.render.html.page import viewer_page
    from tracr_agent.agent.render.html.sources import load_eval_dir
    from tracr_agent.tools.errors import UserError

    try:
        dest = Path(out_dir) / VIEW_FILE
        batch = load_eval_dir(Path(out_dir))
        dest.write_text(viewer_page(batch, dest), encoding="utf-8")
        for note in batch.notes:  # a missing or damaged transcript: its episode is listed, not drawn
            err_console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
        linked = True
    except (UserError, OSError) as e:  # e.g. a corrupt results line: the reports are still written, unlinked
        linked = False
        err_console.print(f"[yellow]warning:[/] {VIEW_FILE} not written: {escape(str(e))}", highlight=False,
                          soft_wrap=True)
    reports = write_reports(out_dir, rows, linked=linked)
    if reports.warning:
        err_console.print(f"[bold red]{escape(reports.warning)}[/]", highlight=False, soft_wrap=True)
    for line in reports.failed_plots:
        err_console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
    return reports


def register(app: typer.Typer) -> None:
    from tracr_agent.agent.cli.main import announce_sandbox, console, err_console, fail, user_errors
    from tracr_agent.agent.cli.options import limit_options

    @app.command("eval")
    @user_errors
    @limit_options
    def eval_cmd(
        tasks: Optional[List[str]] = typer.Option(None, "--tasks", help="Task ids, comma-separated, or 'all'; gen:SEED:DIFFICULTY:COUNT adds generated tasks; dir:PATH adds every model directory under PATH (a suite)."),
        conditions: Optional[List[str]] = typer.Option(None, "--conditions", "-c", help="Conditions, comma-separated."),
        residual: Optional[List[str]] = typer.Option(None, "--residual", help="Residual modes, comma-separated: labelled (default), raw (unlabelled dims d0…dN)."),
        llm: Optional[List[str]] = typer.Option(None, "--llm", help="LLM spec; repeat for several."),
        trials: Optional[int] = typer.Option(None, "--trials", help="Episodes per (task, condition, LLM)."),
        concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Episodes in flight at once (default: 2; with --executor ray, the cluster's CPUs)."),
        executor: str = typer.Option("local", "--executor", help="Where episodes run: local (threads here), ray (a local Ray, or RAY_ADDRESS's cluster) or ray:ADDRESS."),
        out: str = typer.Option(..., "--out", help="Output directory (results.jsonl, transcripts/, reports)."),
        resume: bool = typer.Option(False, "--resume", help="Skip episodes already in results.jsonl."),
        preset: Optional[str] = typer.Option(None, "--preset", help="seed: the prior study's design (reverse, sort, length × 10 × static, static+io, whitebox, full)."),
        closed_set: bool = typer.Option(False, "--closed-set", help="Tell the agent the zoo's labels."),
        compat: Optional[str] = typer.Option(None, "--compat", help="Server quirks mode: llama-cpp."),
        judge_llm: Optional[str] = typer.Option(None, "--judge-llm", help="Also grade labels and descriptions with this LLM as judge (any --llm spec naming a chat model)."),
        limits=None,  # the limit options, from @limit_options
        unsafe_sandbox: bool = typer.Option(False, "--unsafe-sandbox", help="Score submitted code even where no OS-level sandbox (bubblewrap) is usable: UNSAFE, recorded in the transcript."),
    ):
        """Run many episodes headless across tasks, conditions, LLMs and trials; then print the report."""
        import asyncio
        import time
        from pathlib import Path

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from tracr_agent.agent.evaluation.batch import PRESETS, BatchRunner, pending, plan, prepare_out_dir, validate
        from tracr_agent.agent.evaluation.report import load_rows, rich_table
        from tracr_agent.agent.investigators.registry import make_backend
        from tracr_agent.agent.records.config import EpisodeSettings
        from tracr_agent.agent.scoring.judge import make_judge
    
        base = {}
        if preset:
            if preset not in PRESETS:
                fail(f"unknown preset {preset!r}; choose from: {', '.join(PRESETS)}")
            base = PRESETS[preset]
        task_list = _split(tasks) or base.get("tasks")
        cond_list = _split(conditions) or base.get("conditions") or ["full"]
        llms = _split(llm) if llm else None
        note = None
        if not llms:
            from tracr_agent.agent.backends.llm import default_spec

            spec, note = default_spec()
            llms = [spec]
        n_trials = trials if trials is not None else base.get("trials", 1)
        if not task_list:
            fail("give --tasks (comma-separated ids, or 'all') or a --preset")
        if n_trials < 1:
            fail("--trials must be at least 1")
        if concurrency is not None and concurrency < 1:
            fail(f"--concurrency must be at least 1, got {concurrency}")
        from tracr_agent.agent.evaluation.executors import open_executor

        runs_on = open_executor(executor)  # before any task is resolved (a gen: suite compiles)
        concurrency = concurrency or runs_on.episode_slots() or 2
        modes = tuple(dict.fromkeys(_split(residual))) or (Residual.LABELLED.value,)
        task_list = validate(task_list, cond_list, llms, compat, modes)
        out_dir = Path(out)
        torn = prepare_out_dir(out_dir, resume)
        if note:  # announced only once the arguments are known good, so a typo prints one line (as `run`)
            err_console.print(f"[yellow]{note}[/]")
        if torn:
            err_console.print(f"results.jsonl ended in a torn line; moved it to {torn} (that episode runs again)",
                              highlight=False, markup=False)
        specs = plan(task_list, cond_list, llms, n_trials, modes)
        todo = pending(specs, out_dir)
        if len(todo) < len(specs):
            err_console.print(f"resuming: {len(specs) - len(todo)} of {len(specs)} episodes already done")
        announce_sandbox(unsafe_sandbox)
        counts = {"done": 0, "failed": 0, "running": 0}
        with Progress(TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                      console=err_console) as progress:
            bar = progress.add_task("eval", total=len(todo), status="")

            def on_event(kind, spec, rec):
                if kind == "start":
                    counts["running"] += 1
                else:
                    counts["running"] -= 1
                    counts["failed" if rec.status == "error" else "done"] += 1
                    progress.advance(bar)
                progress.update(bar, status=f"done {counts['done']} · failed {counts['failed']} · running {counts['running']}")

            judge = None
            if judge_llm:
                judge = make_judge(judge_llm)
            runner = BatchRunner(out_dir, EpisodeSettings(limits=limits, compat=compat, closed_set=closed_set),
                                 judge=judge, on_event=on_event, executor=runs_on)
            t0 = time.monotonic()
            asyncio.run(runner.run_all(todo, concurrency))
        rows = load_rows(out_dir)
        _table_console().print(rich_table(rows))
        reports = _write_reports(out_dir, rows)
        console.print(f"{len(todo)} episodes in {time.monotonic() - t0:.1f}s · failed {counts['failed']} · "
                      f"reports: {reports.md}, {reports.html}")

    @app.command()
    @user_errors
    def report(out: str = typer.Argument(..., help="An evaluation directory.")):
        """Print the accuracy table of an evaluation and write report.md and report.html."""
        from pathlib import Path

        from tracr_agent.agent.evaluation.report import load_rows, rich_table

        d = Path(out)
        if not (d / "results.jsonl").is_file():
            fail(f"{d} holds no results.jsonl (run `tracr-agent eval --out {d}` first)")
        rows = load_rows(d)
        _table_console().print(rich_table(rows))
        reports = _write_reports(d, rows)
        console.print(f"wrote {reports.md} and {reports.html}")

    @app.command()
    @user_errors
    def rescore(
        out: str = typer.Argument(..., help="An evaluation directory, or an Inspect log (.eval/.json) of tracr_agent/interp."),
        judge_llm: Optional[str] = typer.Option(None, "--judge-llm", help="Also grade labels and descriptions with this LLM as judge (any --llm spec naming a chat model)."),
        unsafe_sandbox: bool = typer.Option(False, "--unsafe-sandbox", help="Score submitted code even where no OS-level sandbox (bubblewrap) is usable: UNSAFE, recorded in results.jsonl and the report."),
        into: Optional[str] = typer.Option(None, "--out", help="For an Inspect log: the evaluation directory its episodes are written to (default: the log's path without its suffix)."),
    ):
        """Recompute every score from the saved transcripts, without calling the agent's model. An Inspect
        log is first written out as an evaluation directory (results.jsonl, transcripts), which is rescored."""
        from pathlib import Path

        from rich.markup import escape

        from tracr_agent.agent.evaluation.rescore import rescore_dir
        from tracr_agent.agent.integrations.inspect_log import is_inspect_log, write_eval_dir

        d = Path(out)
        if is_inspect_log(d):
            log, d, notes = d, Path(into) if into else d.with_suffix(""), []
            console.print(f"{write_eval_dir(log, d, notes)} episode(s) of {log} written to {d}", highlight=False)
            for note in notes:  # samples whose episode never started
                err_console.print("[yellow]warning:[/] " + escape(note), highlight=False, soft_wrap=True)
        elif into:
            fail("--out is for an Inspect log; an evaluation directory is rescored in place")
        if not (d / "results.jsonl").is_file():
            fail(f"{d} holds no results.jsonl")
        announce_sandbox(unsafe_sandbox)
        n, changed = rescore_dir(d, judge_llm=judge_llm)
        console.print(f"rescored {n} episodes; {changed} score(s) changed")
