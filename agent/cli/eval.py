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


def _write_reports(out_dir, rows, records, names=None):
    """report.md/.html, plots and the batch viewer (view.html, which the reports' rows link into), all from
    `records` (scored afresh: report.report_records; `names`: --llm-name); a plot or a viewer that failed
    gets one warning line, the rest is written. Returns (the reports, the viewer's path or None)."""
    from pathlib import Path

    from tracr_agent.agent.cli.main import err_console
    from tracr_agent.agent.evaluation.report import VIEW_FILE, write_reports
    from tracr_agent.agent.render.html.page import viewer_page
    from tracr_agent.agent.render.html.sources import load_eval_dir
    from tracr_agent.tools.errors import UserError
    from tracr_agent.tools.untrusted.files import write_atomic

    dest = Path(out_dir) / VIEW_FILE
    try:
        batch = load_eval_dir(Path(out_dir), [r.model_dump(mode="json") for r in records])
        write_atomic(dest, viewer_page(batch, dest))
        for note in batch.notes:  # a missing or damaged transcript: its episode is listed, not drawn
            err_console.print(f"warning: {note}", style="yellow", markup=False, highlight=False, soft_wrap=True)
        linked = True
    except (UserError, OSError) as e:  # e.g. a symlink planted there: the reports are still written, unlinked
        linked = False
        err_console.print(f"warning: {VIEW_FILE} not written: {e}", style="yellow", markup=False, highlight=False,
                          soft_wrap=True)
    reports = write_reports(out_dir, rows, records, linked=linked, names=names)
    for line in (reports.warning, reports.unscorable):
        if line:
            err_console.print(line, style="bold red", markup=False, highlight=False, soft_wrap=True)
    for line in reports.notes + reports.failed_plots:
        err_console.print(f"warning: {line}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    return reports, (dest if linked else None)


def _print_table(rows, as_json: bool) -> None:
    """The report's table (nothing in it cut, every cell shown as text: agent/render/tables.py; a log or a
    pipe gets a wide one), or one `cell` object per row (--json)."""
    from tracr_agent.agent.cli.main import console
    from tracr_agent.agent.evaluation.report import TERMINAL_TITLE, terminal_cells, terminal_columns
    from tracr_agent.agent.render.tables import natural_width, print_table
    from tracr_agent.agent.render.terminal import SafeConsole

    if as_json:
        from tracr_agent.agent.evaluation.json_output import cell_object, line

        for row in rows:
            typer.echo(line(cell_object(row)))
        return
    cols = list(terminal_columns(rows))
    cells = terminal_cells(rows)
    out = console if console.is_terminal else SafeConsole(width=max(console.width, natural_width(cols, cells)),
                                                          highlight=False)
    print_table(out, TERMINAL_TITLE, cols, cells, right=frozenset(cols[3:]))


def _written(reports, view) -> str:
    """The files a report wrote, for the last line: report.md, report.html and the viewer."""
    return ", ".join(str(p) for p in (reports.md, reports.html, view) if p is not None)


def _paired_names(values: list[str], llms: list[str], parse) -> dict[str, str]:
    """eval's --llm-name: NAME values paired with the --llm specs in order, or SPEC=NAME each."""
    from tracr_agent.tools.errors import UserError

    if all("=" not in v for v in values):
        if len(values) > len(llms):
            raise UserError(f"{len(values)} --llm-name for {len(llms)} --llm: give one name per --llm, in order")
        return {spec: name for spec, name in zip(llms, values)}
    return parse(values, llms)


def episode_line(rec, n: int, total: int, names: dict) -> str:
    """One finished episode in one plain line, for a log or a pipe (every text from the record shown, never
    obeyed: tools/untrusted/text.py)."""
    from tracr_agent.tools.untrusted.text import shown

    task = f"{rec.suite}/{rec.task}" if rec.suite else rec.task
    if rec.status != "prediction":
        verdict = rec.status + (f": {rec.error.splitlines()[0]}" if rec.error else "")
    else:
        ok = rec.functional_correct if rec.functional_correct is not None else rec.label_correct
        verdict = "correct" if ok else "wrong"
    if rec.forced:
        verdict += f" (forced: {rec.limit} limit)" if rec.limit else " (forced)"
    marks = ([] if rec.residual == Residual.LABELLED else [str(rec.residual)]) + ([rec.transform] if rec.transform else [])
    mode = f" ({', '.join(marks)})" if marks else ""
    return shown(f"[{n}/{total}] {task} · {rec.condition}{mode} · {names.get(rec.llm, rec.llm)} · trial {rec.trial}: "
                 f"{verdict} · {rec.tool_calls} calls · {rec.duration_s:.1f}s", one_line=True)


def _episode_drawer(out_dir, n_episodes: int):
    """For a batch the viewer will keep beside its page (more than INLINE_EPISODES), each episode is drawn
    as it finishes, so the view written at the end draws nothing again; a smaller batch is drawn then."""
    from pathlib import Path

    from tracr_agent.agent.evaluation.report import VIEW_FILE
    from tracr_agent.agent.render.html.episodes import INLINE_EPISODES, draw_episode
    from tracr_agent.agent.render.html.sources import Episode

    if n_episodes <= INLINE_EPISODES:
        return lambda rec: None

    def draw(rec):
        path = Path(out_dir) / rec.transcript if rec.transcript else None
        if path is not None and path.is_file():
            draw_episode(Path(out_dir) / VIEW_FILE, Episode(rec.key, rec.model_dump(mode="json"), rec.transcript, path))

    return draw


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
        llm: Optional[List[str]] = typer.Option(None, "--llm", help="LLM spec (see `tracr-agent run --help`); repeat for several."),
        llm_name: Optional[List[str]] = typer.Option(None, "--llm-name", help="The name an --llm is shown by in reports and the viewer (e.g. qwen for openai-compatible:qwen2.5@http://…); repeat in --llm's order, or SPEC=NAME."),
        api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="The environment variable holding the API key of an openai-compatible endpoint (e.g. VLLM_API_KEY); default OPENAI_COMPATIBLE_API_KEY, else none."),
        as_json: bool = typer.Option(False, "--json", help="For scripts: one JSON object per line — an `episode` as each finishes, then a `cell` per row of the report and a `summary` (docs/json-output.md)."),
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
        from tracr_agent.agent.evaluation.report import parse_llm_names, report_records, summarize
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
        names = _paired_names(llm_name or [], llms, parse_llm_names)
        shapes = parse_transforms(_split(transforms))
        # a --program is one more subject of the list, as `program:FILE.py:FUNC` names it anywhere
        task_list = validate([*(task_list or []), *(f"program:{p}" for p in programs or ())], cond_list, llms,
                             compat, modes, shapes, temperature=temperature, api_key_env=api_key_env)
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
        piped = not console.is_terminal and not as_json  # a log or a pipe: a plain line per finished episode
        draw = _episode_drawer(out_dir, len(specs))
        with Progress(TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                      console=err_console, disable=not err_console.is_terminal) as progress:
            bar = progress.add_task("eval", total=len(todo), status="")

            def on_event(kind, spec, rec):
                if kind == "start":
                    counts["running"] += 1
                else:
                    counts["running"] -= 1
                    counts["failed" if rec.status == "error" else "done"] += 1
                    progress.advance(bar)
                    finished(rec, counts["done"] + counts["failed"])
                progress.update(bar, status=f"done {counts['done']} · failed {counts['failed']} · running {counts['running']}")

            def finished(rec, n):
                draw(rec)
                if as_json:
                    from tracr_agent.agent.evaluation.json_output import episode_object, line

                    typer.echo(line(episode_object(rec, out_dir)))
                elif piped:
                    typer.echo(episode_line(rec, n, len(todo), names))

            judge = None
            if judge_llm:
                judge = make_judge(judge_llm)
            settings = EpisodeSettings(limits=limits, compat=compat, closed_set=closed_set, api_key_env=api_key_env,
                                       temperature=temperature, price=price_set.setting() if price_set else None,
                                       trim_tool_outputs=trim_tool_outputs, **base.get("settings", {}))
            runner = BatchRunner(out_dir, settings, judge=judge, on_event=on_event, executor=runs_on, llm_names=names)
            t0 = time.monotonic()
            done = asyncio.run(runner.run_all(todo, concurrency))
        # this run's episodes were scored here moments ago; the rest (--resume) from their transcripts
        records = report_records(out_dir, keep=frozenset(r.key for r in done), programs=tuple(programs or ()))
        rows = summarize(records)
        _print_table(rows, as_json)
        reports, view = _write_reports(out_dir, rows, records)
        took = time.monotonic() - t0
        if as_json:
            from tracr_agent.agent.evaluation.json_output import line, summary_object

            typer.echo(line(summary_object(len(todo), counts["failed"], took, {
                "report_md": reports.md, "report_html": reports.html, "view_html": view},
                unscorable=sum(bool(r.unscorable) for r in records))))
        else:
            console.print(f"{len(todo)} episodes in {took:.1f}s · failed {counts['failed']} · "
                          f"written: {_written(reports, view)}", markup=False, highlight=False, soft_wrap=True)

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
    def report(
        out: str = typer.Argument(..., help="An evaluation directory."),
        models: Optional[str] = ModelsOpt,
        programs: Optional[List[str]] = ProgramsOpt,
        judge_llm: Optional[str] = JudgeOpt,
        unsafe_sandbox: bool = UnsafeOpt,
        llm_name: Optional[List[str]] = typer.Option(None, "--llm-name", help="Show an LLM by a name in the tables and plots: SPEC=NAME (repeatable), or NAME when the results hold one LLM."),
        as_json: bool = typer.Option(False, "--json", help="For scripts: one JSON `cell` object per row of the report, then a `summary` (docs/json-output.md)."),
    ):
        """Score every episode afresh from its own transcript (nothing recorded is trusted), print the accuracy
        table, and write report.md, report.html and view.html."""
        from pathlib import Path

        from tracr_agent.agent.evaluation.report import parse_llm_names, report_records, summarize
        from tracr_agent.agent.evaluation.results import read_results

        d = _eval_dir(out)
        # checked before anything is scored: a name for an LLM the results do not hold is one line
        names = parse_llm_names(llm_name or [], [r.llm for r in read_results(d, strict=True)])
        announce_sandbox(unsafe_sandbox, quiet=as_json)
        records = report_records(d, judge_llm, Path(models) if models else None, programs=tuple(programs or ()))
        rows = summarize(records, names=names)
        _print_table(rows, as_json)
        reports, view = _write_reports(d, rows, records, names)
        if as_json:
            from tracr_agent.agent.evaluation.json_output import line, summary_object

            typer.echo(line(summary_object(len(records), sum(r.status == "error" for r in records), None,
                                           {"report_md": reports.md, "report_html": reports.html, "view_html": view},
                                           unscorable=sum(bool(r.unscorable) for r in records))))
        else:
            console.print(f"wrote {_written(reports, view)}", markup=False, highlight=False, soft_wrap=True)

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
        from tracr_agent.agent.evaluation.report import summarize
        from tracr_agent.tools.untrusted.text import shown_data

        _print_table(summarize([shown_data(r) for r in records]), as_json=False)  # rows by condition, residual mode and transform
        bad = sum(bool(r.unscorable) for r in records)
        console.print(f"rescored {n} episodes; {changed} score(s) changed" + (f"; {bad} unscorable" if bad else ""),
                      markup=False, highlight=False)
        line = unscorable_line(records)
        if line:
            err_console.print(line, style="bold red", markup=False, highlight=False, soft_wrap=True)
