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
    from tracr_agent.agent.cli.main import console
    from tracr_agent.agent.render.terminal import SafeConsole

    return console if console.is_terminal else SafeConsole(width=max(console.width, 170))


def _report(out_dir, records):
    """The table on the terminal, then report.md/.html, plots and the batch viewer (view.html, which the
    reports' rows link into), all from `records` (scored afresh: report.report_records); a plot or a
    viewer that failed gets one warning line, the rest is written."""
    from pathlib import Path

    from tracr_agent.agent.cli.main import err_console
    from tracr_agent.agent.evaluation.report import VIEW_FILE, rich_table, summarize, write_reports
    from tracr_agent.agent.render.html.page import viewer_page
    from tracr_agent.agent.render.html.sources import load_eval_dir
    from tracr_agent.tools.errors import UserError
    from tracr_agent.tools.untrusted.files import write_atomic

    rows = summarize(records)
    _table_console().print(rich_table(rows))
    try:
        page = viewer_page(load_eval_dir(Path(out_dir), [r.model_dump(mode="json") for r in records]))
        write_atomic(Path(out_dir) / VIEW_FILE, page)
        linked = True
    except (UserError, OSError) as e:  # e.g. a symlink planted there: the reports are still written, unlinked
        linked = False
        err_console.print(f"warning: {VIEW_FILE} not written: {e}", style="yellow", markup=False, highlight=False,
                          soft_wrap=True)
    reports = write_reports(out_dir, rows, records, linked=linked)
    for line in (reports.warning, reports.unscorable):
        if line:
            err_console.print(line, style="bold red", markup=False, highlight=False, soft_wrap=True)
    for line in reports.notes + reports.failed_plots:
        err_console.print(f"warning: {line}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    return reports


def register(app: typer.Typer) -> None:
    from tracr_agent.agent.cli.main import announce_sandbox, check_sampling_options, console, err_console, fail, user_errors
    from tracr_agent.agent.cli.options import PriceOpt, TemperatureOpt, TrimOpt, limit_options

    @app.command("eval")
    @user_errors
    @limit_options
    def eval_cmd(
        tasks: Optional[List[str]] = typer.Option(None, "--tasks", help="Task ids, comma-separated, or 'all'; gen:SEED:DIFFICULTY:COUNT adds generated tasks; dir:PATH adds every model directory under PATH (a suite)."),
        programs: Optional[List[str]] = typer.Option(None, "--program", help="Your RASP program FILE.py:FUNCTION returning (sop, vocab, max_seq_len), as `run --program`; repeat for several."),
        conditions: Optional[List[str]] = typer.Option(None, "--conditions", "-c", help="Conditions, comma-separated."),
        residual: Optional[List[str]] = typer.Option(None, "--residual", help="Residual modes, comma-separated: labelled (default), raw (unlabelled dims d0…dN)."),
        transforms: Optional[List[str]] = typer.Option(None, "--transforms", help="Subject transforms, comma-separated: none (default), rotated[:SEED], compressed[:D]; each is a column of the results."),
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
        temperature: Optional[float] = TemperatureOpt,
        price: Optional[str] = PriceOpt,
        trim_tool_outputs: Optional[int] = TrimOpt,
    ):
        """Run many episodes headless across tasks, conditions, LLMs and trials; then print the report."""
        import asyncio
        import time
        from pathlib import Path

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        from tracr_agent.agent.evaluation.batch import (PRESETS, BatchRunner, parse_transforms, pending, plan,
                                                        prepare_out_dir, validate)
        from tracr_agent.agent.backends.pricing import parse_price
        from tracr_agent.agent.evaluation.report import report_records
        from tracr_agent.agent.records.config import EpisodeSettings
        from tracr_agent.agent.scoring.judge import make_judge

        check_sampling_options(temperature, trim_tool_outputs)
        price_set = parse_price(price)
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
        if not task_list and not programs:
            fail("give --tasks (comma-separated ids, or 'all'), --program FILE.py:FUNC or a --preset")
        if n_trials < 1:
            fail("--trials must be at least 1")
        if concurrency is not None and concurrency < 1:
            fail(f"--concurrency must be at least 1, got {concurrency}")
        from tracr_agent.agent.evaluation.executors import open_executor

        runs_on = open_executor(executor)  # before any task is resolved (a gen: suite compiles)
        concurrency = concurrency or runs_on.episode_slots() or 2
        modes = tuple(dict.fromkeys(_split(residual))) or (Residual.LABELLED.value,)
        shapes = parse_transforms(_split(transforms))
        # a --program is one more subject of the list, as `program:FILE.py:FUNC` names it anywhere
        task_list = validate([*(task_list or []), *(f"program:{p}" for p in programs or ())], cond_list, llms,
                             compat, modes, shapes, temperature=temperature)
        out_dir = Path(out)
        torn = prepare_out_dir(out_dir, resume)
        if note:  # announced only once the arguments are known good, so a typo prints one line (as `run`)
            err_console.print(note, style="yellow", markup=False, highlight=False)
        if torn:
            err_console.print(f"results.jsonl ended in a torn line; moved it to {torn} (that episode runs again)",
                              highlight=False, markup=False)
        specs = plan(task_list, cond_list, llms, n_trials, modes, shapes)
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
            settings = EpisodeSettings(limits=limits, compat=compat, closed_set=closed_set, temperature=temperature,
                                       price=price_set.setting() if price_set else None, trim_tool_outputs=trim_tool_outputs,
                                       **base.get("settings", {}))
            runner = BatchRunner(out_dir, settings, judge=judge, on_event=on_event, executor=runs_on)
            t0 = time.monotonic()
            done = asyncio.run(runner.run_all(todo, concurrency))
        # this run's episodes were scored here moments ago; the rest (--resume) from their transcripts
        reports = _report(out_dir, report_records(out_dir, keep=frozenset(r.key for r in done),
                                                    programs=tuple(programs or ())))
        console.print(f"{len(todo)} episodes in {time.monotonic() - t0:.1f}s · failed {counts['failed']} · "
                      f"reports: {reports.md}, {reports.html}", markup=False, highlight=False)

    ModelsOpt = typer.Option(None, "--models", help="A suite's folder (`eval --tasks dir:PATH`): its models are "
                             "scored from here, each checked against its transcript's fingerprint (a path a "
                             "transcript names is never loaded).")
    UnsafeOpt = typer.Option(False, "--unsafe-sandbox", help="Score submitted code even where no OS-level sandbox "
                             "(bubblewrap) is usable: UNSAFE, recorded in results.jsonl and the report.")
    ProgramsOpt = typer.Option(None, "--program", help="FILE.py:FUNCTION of an `eval --program` subject: its episodes "
                               "are scored against it (a program a record names is never imported); repeat for several.")
    JudgeOpt = typer.Option(None, "--judge-llm", help="Also grade labels and descriptions with this LLM as judge "
                            "(any --llm spec naming a chat model).")

    def _eval_dir(out: str):
        from pathlib import Path

        d = Path(out)
        if not (d / "results.jsonl").is_file():
            fail(f"{d} holds no results.jsonl (run `tracr-agent eval --out {d}` first)")
        return d

    @app.command()
    @user_errors
    def report(out: str = typer.Argument(..., help="An evaluation directory."), models: Optional[str] = ModelsOpt,
               programs: Optional[List[str]] = ProgramsOpt, judge_llm: Optional[str] = JudgeOpt,
               unsafe_sandbox: bool = UnsafeOpt):
        """Score every episode afresh from its own transcript (nothing recorded is trusted), print the accuracy
        table, and write report.md and report.html."""
        from pathlib import Path

        from tracr_agent.agent.evaluation.report import report_records

        d = _eval_dir(out)
        announce_sandbox(unsafe_sandbox)
        reports = _report(d, report_records(d, judge_llm, Path(models) if models else None,
                                            programs=tuple(programs or ())))
        console.print(f"wrote {reports.md} and {reports.html}", markup=False, highlight=False)

    @app.command()
    @user_errors
    def rescore(
        out: str = typer.Argument(..., help="An evaluation directory, or an Inspect log (.eval/.json) of tracr_agent/interp."),
        judge_llm: Optional[str] = JudgeOpt,
        unsafe_sandbox: bool = UnsafeOpt,
        models: Optional[str] = ModelsOpt,
        programs: Optional[List[str]] = ProgramsOpt,
        into: Optional[str] = typer.Option(None, "--out", help="For an Inspect log: the evaluation directory its episodes are written to (default: the log's path without its suffix)."),
    ):
        """Recompute every score from the saved transcripts, without calling the agent's model; an episode its
        own transcript cannot score is marked unscorable. An Inspect log is first written out as an evaluation
        directory (results.jsonl, transcripts), which is rescored."""
        from pathlib import Path

        from tracr_agent.agent.evaluation.breakdown import unscorable_line
        from tracr_agent.agent.evaluation.rescore import rescore_dir
        from tracr_agent.agent.integrations.inspect_log import is_inspect_log, write_eval_dir

        d = Path(out)
        if is_inspect_log(d):
            log, d, notes = d, Path(into) if into else d.with_suffix(""), []
            console.print(f"{write_eval_dir(log, d, notes)} episode(s) of {log} written to {d}", highlight=False,
                          markup=False)
            for note in notes:  # samples whose episode never started
                err_console.print(f"warning: {note}", style="yellow", markup=False, highlight=False, soft_wrap=True)
        elif into:
            fail("--out is for an Inspect log; an evaluation directory is rescored in place")
        d = _eval_dir(str(d))
        announce_sandbox(unsafe_sandbox)
        n, changed, records = rescore_dir(d, judge_llm=judge_llm, models=Path(models) if models else None,
                                              programs=tuple(programs or ()))
        from tracr_agent.agent.evaluation.report import rich_table, summarize
        from tracr_agent.tools.untrusted.text import shown_data

        _table_console().print(rich_table(summarize([shown_data(r) for r in records])))  # rows by condition, residual mode and transform
        bad = sum(bool(r.unscorable) for r in records)
        console.print(f"rescored {n} episodes; {changed} score(s) changed" + (f"; {bad} unscorable" if bad else ""),
                      markup=False, highlight=False)
        line = unscorable_line(records)
        if line:
            err_console.print(line, style="bold red", markup=False, highlight=False, soft_wrap=True)
