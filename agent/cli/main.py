"""The `tracr-agent` command line (typer + rich).

Every command imports the project's machinery inside its body, for start-up time: `tracr-agent
--help` loads typer, rich and the option declarations only (≤ 0.3 s; benchmarks/cli_startup.py).
The layers still hold for those imports (lint-imports checks imports inside functions too). User errors (`tracr_agent.tools.errors.UserError`)
print one line and exit 2 — never a traceback.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from typing import List, Optional

import typer

from tracr_agent.agent.render.terminal import SafeConsole
from tracr_agent.agent.cli.options import (
    DEFAULT_OUT,
    ApiKeyEnvOpt,
    CapOpt,
    ConditionOpt,
    LlmOpt,
    ModelDirOpt,
    PlainOpt,
    PriceOpt,
    ProgramOpt,
    ResidualOpt,
    TemperatureOpt,
    ToolConditionOpt,
    TrimOpt,
    limit_options,
)

app = typer.Typer(
    help="Investigate Tracr-compiled transformers with an LLM agent and interpretability tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = SafeConsole()
err_console = SafeConsole(stderr=True)

TaskArg = typer.Argument(None, help="Zoo task id (see `tracr-agent tasks`), generated id gen-SEED-DIFFICULTY-INDEX "
                                     "(see `tracr-agent generate`), or dir:PATH, one model directory (as --model-dir; "
                                     "dir:SUITE/NAME picks one model of a suite); any of them (and --program, "
                                     "--model-dir) may end in @rotated[:SEED] or @compressed[:D].",
                         show_default=False)
NoCacheOpt = typer.Option(False, "--no-cache", help="Compile afresh instead of using the subject cache.")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("tracr-agent")
        except PackageNotFoundError:  # running from a source tree that was never installed
            v = "unknown"
        typer.echo(f"tracr-agent {v}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Investigate Tracr-compiled transformers with an LLM agent and interpretability tools."""


def fail(message: str, code: int = 2) -> None:
    from tracr_agent.tools.untrusted.text import markup

    # The message is text, not markup ("pip install 'tracr-agent[anthropic]'" keeps its brackets), and
    # it may quote what a file or a server said: shown on one line, never obeyed.
    err_console.print(f"[bold red]error:[/] {markup(message, one_line=True)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def user_errors(fn):
    """Turns UserError (and its kin) into a one-line message and exit code 2; so is a file operation the
    disk refused (read-only, full, no permission: tools/untrusted/files.py `DISK_ERRNOS`), wherever it
    happened — a hostile environment is one line, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from tracr_agent.tools.errors import UserError
        from tracr_agent.tools.untrusted.files import DISK_ERRNOS, write_error

        try:
            return fn(*args, **kwargs)
        except UserError as e:
            fail(str(e))
        except KeyboardInterrupt:
            fail("interrupted", code=130)
        except OSError as e:
            if e.errno not in DISK_ERRNOS:
                raise
            fail(str(write_error(e, doing="use")))

    return wrapper


def check_probe_options(condition: str, residual: str, cap: int) -> None:
    """The condition, residual mode and --cap every probing command (run, tool, lab) takes: one line, exit 2."""
    from tracr_agent.agent.records.limits import check_cap
    from tracr_agent.tools.suite.base import check_condition, check_residual
    from tracr_agent.tools.errors import ToolError

    try:
        check_condition(condition)
        check_residual(residual)
    except ToolError as e:
        fail(str(e))
    check_cap(cap)


def check_sampling_options(temperature: Optional[float], trim_tool_outputs: Optional[int]) -> None:
    """--temperature and --trim-tool-outputs, each one line when out of range."""
    import math

    if temperature is not None and not (math.isfinite(temperature) and 0 <= temperature <= 2):
        fail(f"--temperature must be a number from 0 to 2 (got {temperature})")
    if trim_tool_outputs is not None and trim_tool_outputs < 1:
        fail(f"--trim-tool-outputs must be at least 1 (got {trim_tool_outputs})")


def subject_spec(task: Optional[str], program: Optional[str] = None, model_dir: Optional[str] = None):
    """The one subject a command names (TASK, --program or --model-dir): tools/subjects/spec.py."""
    from tracr_agent.tools.subjects.spec import SubjectSpec

    return SubjectSpec.from_options(task, program, model_dir)


def load_subject(spec, no_cache: bool = False, refresh: bool = False):
    with err_console.status("loading subject…"):
        return spec.load(use_cache=not no_cache, refresh=refresh)


@app.command()
def tasks(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """List the task zoo."""
    from tracr_agent.tools.subjects.zoo import all_tasks

    rows = [
        {"id": t.id, "name": t.name, "category": t.category, "vocab_size": len(t.vocab),
         "max_seq_len": t.max_seq_len, "output": t.output, "origin": t.origin, "aliases": list(t.aliases)}
        for t in all_tasks()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"tracr-agent task zoo ({len(rows)} tasks)")
    for col in ("id", "name", "category", "vocab", "max len", "output", "origin"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["name"], r["category"], str(r["vocab_size"]), str(r["max_seq_len"]),
                      r["output"], r["origin"])
    console.print(table)


@app.command()
@user_errors
def show(task: Optional[str] = TaskArg, program: Optional[str] = ProgramOpt,
         model_dir: Optional[str] = ModelDirOpt,
         source: bool = typer.Option(False, "--source", help="Only the RASP source (a generated task's is a "
                                     "runnable module: save it and `run --program FILE.py:program`).")):
    """Print a subject's architecture (layers, heads, sizes, vocab, the non-empty components) and the RASP
    program it was compiled from, where there is one (for you: the agent never sees it); for a transformed
    subject (TASK@rotated[:SEED], TASK@compressed[:D]) also the transform: D/d_model, the training time and
    the final loss."""
    from tracr_agent.tools.subjects.sources import program_source_text, task_source_text
    from tracr_agent.tools.suite.info import model_info_text

    spec = subject_spec(task, program, model_dir)
    subject = load_subject(spec)
    text = program_source_text(spec.ref) if spec.kind == "program" else task_source_text(spec.ref) \
        if spec.kind == "task" else None
    if source:
        if text is None:
            fail("this subject has no RASP source (a model directory holds weights only)")
        typer.echo(text.rstrip("\n"))
        return
    console.print(model_info_text(subject, show_output=True), highlight=False, markup=False)
    if subject.transform is not None:
        console.print("\n".join(subject.transform.summary()), highlight=False, markup=False)
    if text:
        console.rule("RASP source", style="dim")
        console.print(text.rstrip("\n"), highlight=False, markup=False, soft_wrap=True)


@app.command("compile")
@user_errors
def compile_cmd(
    task: Optional[str] = TaskArg,
    all_tasks_: bool = typer.Option(False, "--all", help="Every zoo task."),
    verify: bool = typer.Option(False, "--verify", help="Check the subject against tracr and the reference on the input domain."),
    program: Optional[str] = ProgramOpt,
    out: Optional[str] = typer.Option(None, "--out", help="Also write the subject as a model directory here."),
    no_cache: bool = NoCacheOpt,
):
    """Compile tasks with tracr, convert them to TransformerLens, cache them, and optionally verify."""
    import time

    from rich.table import Table

    from tracr_agent.tools.subjects.spec import parse_suite
    from tracr_agent.tools.subjects.tasks import get_task

    if all_tasks_ and (task or program):
        fail("give a TASK, --program, or --all, not several")
    if not (all_tasks_ or task or program):
        fail("give a TASK, --program FILE.py:FUNC, or --all")
    if program and verify:
        fail("--verify needs a zoo task (a reference function to compare against); compile the --program without --verify")
    if task and task.startswith("dir:"):
        fail(f"{task} names model directories, which are already compiled: use them with show, tool, run, lab or eval")
    specs = [m.spec for m in parse_suite("all")] if all_tasks_ else [subject_spec(task, program)]
    if verify and any(s.transform is not None for s in specs):
        fail("--verify compares tracr's own model with the reference: give the task without its @transform")

    table = Table(title="compile" + (" + verify" if verify else ""))
    for col in ("task", "layers", "heads", "d_model", "seconds", *(("inputs", "agree tracr", "agree ref", "max |Δresid|") if verify else ())):
        table.add_column(col, justify="right" if col != "task" else "left")
    failures = 0
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as progress:
        bar = progress.add_task("compiling", total=len(specs))
        for spec in specs:
            tid = spec.ref if spec.kind == "task" else None
            progress.update(bar, description=f"compiling {tid or program}")
            t0 = time.perf_counter()
            # --verify needs tracr's own model: compile afresh (and repair a damaged cache entry)
            subject = load_subject(spec, no_cache=no_cache, refresh=verify)
            secs = time.perf_counter() - t0
            row = [tid or program, str(subject.n_layers), str(subject.n_heads), str(subject.d_model), f"{secs:.1f}"]
            if verify:
                from tracr_agent.tools.subjects.verify import verify_task

                r = verify_task(get_task(tid), subject, subject.tracr_model)
                failures += not r.ok
                row += [str(r.n_inputs), f"{100 * r.agree_tracr / r.n_inputs:.1f}%",
                        f"{100 * r.agree_reference / r.n_inputs:.1f}%", f"{r.max_resid_diff:.1e}"]
                if not r.ok:
                    err_console.print(f"{tid}: {r.first_mismatch}", style="red", markup=False, highlight=False)
            if out:
                from pathlib import Path

                from tracr_agent.tools.subjects.modeldir import write_model_dir

                dest = Path(out) / tid if all_tasks_ else Path(out)
                write_model_dir(dest, subject.card, subject.weights)
            table.add_row(*row)
            progress.advance(bar)
    console.print(table)
    if verify:
        ok = len(specs) - failures
        console.print(f"{ok}/{len(specs)} tasks agree 100% with tracr and their reference")
    if failures:
        raise typer.Exit(1)




def announce(backend) -> None:
    """Says which LLM stands in (e.g. the baseline when none is configured) — only once the
    arguments have been checked, so a typo prints its one error line and nothing else."""
    if backend.announce:
        err_console.print(backend.announce, style="yellow", markup=False, highlight=False)


@app.command()
@user_errors
def tool(
    parts: List[str] = typer.Argument(..., metavar="[TASK] TOOL [ARGS]",
                                      help="Zoo task id (omit with --program/--model-dir), the tool name, and its arguments as a JSON object."),
    condition: str = ToolConditionOpt,
    program: Optional[str] = ProgramOpt,
    model_dir: Optional[str] = ModelDirOpt,
    cap: int = CapOpt,
    residual: str = ResidualOpt,
):
    """Call one tool by hand and print its output exactly as the agent would see it."""
    from tracr_agent.tools.suite import ToolContext, call_tool

    check_probe_options(condition, residual, cap)
    task = None if (program or model_dir) else parts.pop(0)
    if not parts or len(parts) > 2:
        fail("usage: tracr-agent tool TASK TOOL '{json args}' (TASK omitted with --program or --model-dir)")
    name, args = parts[0], (parts[1] if len(parts) > 1 else "{}")
    subject = load_subject(subject_spec(task, program, model_dir))
    res = call_tool(subject, name, args, ToolContext(condition=condition, cap_tokens=cap, residual=residual))
    from tracr_agent.tools.untrusted.text import shown

    typer.echo(shown(res.text))
    if res.is_error:  # every tool error is about the arguments it was given: bad input, as everywhere else
        raise typer.Exit(2)


def announce_sandbox(unsafe: bool, quiet: bool = False) -> None:
    """Sets whether unsandboxed scoring is allowed and says once which isolation is in force (on stderr;
    with `quiet`, only when it is weaker than the OS-level sandbox: that is a warning)."""
    from tracr_agent.tools.sandbox import runner as sandbox

    sandbox.allow_unsafe(unsafe)
    line = sandbox.isolation_line()
    weaker = not line.startswith("sandbox: bubblewrap (")  # the refusal line names bubblewrap too (its install hint)
    if weaker or not quiet:
        err_console.print(line, style="yellow" if weaker else None, markup=False, soft_wrap=quiet)


@app.command()
@user_errors
@limit_options
def run(
    task: Optional[str] = TaskArg,
    llm: Optional[str] = LlmOpt,
    api_key_env: Optional[str] = ApiKeyEnvOpt,
    condition: str = ConditionOpt,
    limits=None,  # the limit options, from @limit_options
    closed_set: bool = typer.Option(False, "--closed-set", help="Tell the agent the zoo's task labels."),
    out: str = typer.Option(DEFAULT_OUT, "--out", help="Directory for the transcript (the run prints its path)."),
    transcript: Optional[str] = typer.Option(None, "--transcript", help="Exact transcript file path (overrides --out)."),
    compat: Optional[str] = typer.Option(None, "--compat", help="Server quirks mode: llama-cpp."),
    cap: int = CapOpt,
    static_hooks: Optional[str] = typer.Option(None, "--static-hooks", help="static conditions: hooks to dump, comma-separated (default attn.hook_pattern,hook_pos_embed; a per-layer name means every layer)."),
    static_inputs: Optional[str] = typer.Option(None, "--static-inputs", help='static conditions: JSON list of inputs to dump, e.g. \'[["a","b","c"]]\' (default: one random input of full length).'),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live view; print only the result (the transcript's path on one line)."),
    as_json: bool = typer.Option(False, "--json", help="For scripts: no live view; one JSON `episode` object on stdout (docs/json-output.md)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show full tool outputs."),
    plain: bool = PlainOpt,
    program: Optional[str] = ProgramOpt,
    model_dir: Optional[str] = ModelDirOpt,
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Approve, edit or deny each tool call, give "
                                     "hints, ask questions after the prediction; resumable (`tracr-agent resume`)."),
    unsafe_sandbox: bool = typer.Option(False, "--unsafe-sandbox", help="Score submitted code even where no OS-level sandbox (bubblewrap) is usable: UNSAFE, recorded in the transcript."),
    residual: str = ResidualOpt,
    temperature: Optional[float] = TemperatureOpt,
    price: Optional[str] = PriceOpt,
    trim_tool_outputs: Optional[int] = TrimOpt,
    seed: int = typer.Option(0, "--seed", help="The episode's seed: the static dump's input, the inputs a submission "
                             "is checked on, and the tools' sampled inputs."),
):
    """Run one investigation episode, live, and score its prediction.

    Every step is checkpointed: interrupted (Ctrl-C, SIGTERM, a lost terminal, a crash), the run is
    saved and `tracr-agent resume ID` continues it in the same transcript (`tracr-agent sessions`
    lists the open ones)."""
    from pathlib import Path

    # imported here, not at the top: `tracr-agent --help` must not pay for pydantic models and the episode machinery
    from tracr_agent.agent.episode.drive import Suspended, run_episode, start_run
    from tracr_agent.agent.episode.lifecycle import default_transcript_path
    from tracr_agent.agent.backends.llm import check_reachable
    from tracr_agent.agent.episode.store import abs_llm_spec, open_store
    from tracr_agent.agent.backends.pricing import parse_price
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.records.config import EpisodeConfig
    from tracr_agent.agent.render.live import LiveView, print_run_result
    from tracr_agent.tools.untrusted.files import check_target

    check_probe_options(condition, residual, cap)
    quiet = quiet or as_json
    check_sampling_options(temperature, trim_tool_outputs)
    if interactive:
        from tracr_agent.agent.interactive.session import check_options

        if as_json:
            fail("--json is for headless runs; --interactive asks a person")
        check_options(condition, quiet)
    backend = make_backend(llm, compat, temperature=temperature, price=parse_price(price), api_key_env=api_key_env)
    check_reachable(backend.spec, api_key_env)  # as eval does: a server that is not there is one line, now
    spec = subject_spec(task, program, model_dir)
    subject = load_subject(spec)
    inputs = None
    if static_inputs:
        try:
            inputs = json.loads(static_inputs)
        except json.JSONDecodeError as e:
            fail(f"--static-inputs is not valid JSON: {e.msg}")
        if not isinstance(inputs, list) or not all(isinstance(x, list) for x in inputs):
            fail('--static-inputs must be a JSON list of input lists, e.g. [["a","b"]]')
        inputs = [subject.check_input(x) for x in inputs]
    config = EpisodeConfig(subject=spec, condition=condition, residual=residual, llm=abs_llm_spec(backend.spec),
                           compat=compat, api_key_env=api_key_env, limits=limits, cap_tokens=cap, closed_set=closed_set,
                           static_hooks=[h.strip() for h in static_hooks.split(",") if h.strip()] if static_hooks else None,
                           static_inputs=inputs, seed=seed, trim_tool_outputs=trim_tool_outputs,
                           price=parse_price(price).setting() if price else None, **backend.sampling())
    path = Path(transcript) if transcript else default_transcript_path(Path(out), subject, condition, backend.spec)
    check_target(path, "the transcript")  # before a session row names it: a symlink or a device is one line
    announce(backend)
    announce_sandbox(unsafe_sandbox, quiet=quiet)
    if interactive:
        from tracr_agent.agent.interactive.session import start_session

        raise typer.Exit(start_session(subject, backend, config, transcript_path=path, verbose=verbose, plain=plain,
                                       console=console))
    listeners = [] if quiet else [LiveView(console, verbose=verbose, plain=plain)]
    store, problem = open_store()
    if store is None:  # checkpoints are a safety net: without them the run still runs
        err_console.print(f"warning: {problem}; this run cannot be resumed if it is interrupted", style="yellow",
                          markup=False, highlight=False, soft_wrap=True)
        result = run_episode(subject, backend, config, transcript_path=path, listeners=listeners)
    else:
        try:
            result = start_run(store, subject, backend, config, transcript_path=path, listeners=listeners, quiet=quiet)
        except Suspended as stop:
            suspended(stop)
        finally:
            store.close()
    if as_json:
        raise typer.Exit(print_run_json(result, config, subject))
    raise typer.Exit(print_run_result(result, console, err_console, quiet))


def print_run_json(result, config, subject) -> int:
    """`run --json`: the episode as one JSON object on stdout (its record, prediction and session); the
    exit code `run` returns."""
    from tracr_agent.agent.evaluation.batch import EpisodeSpec, record_from_score
    from tracr_agent.agent.evaluation.json_output import episode_object, line
    from tracr_agent.agent.records.transcript import Counters, Ending
    from tracr_agent.tools.untrusted.text import markup

    task = subject.truth.task_id or str(config.subject.without_transform())
    transform = config.subject.transform
    spec = EpisodeSpec(task, str(config.condition), config.llm, config.seed, residual=config.residual,
                       transform=str(transform) if transform else None)
    values = result.model_dump()
    rec = record_from_score(spec, result.score, status=result.status,
                            label=(result.prediction or {}).get("label"),
                            **Counters.of(values).model_dump(), **Ending.of(values).model_dump(exclude_none=True),
                            transcript=str(result.transcript), error=result.error,
                            temperature=config.temperature)
    typer.echo(line(episode_object(rec, prediction=result.prediction,
                                   session=getattr(result, "session_id", None))))
    if result.error:
        err_console.print(f"[red]episode error:[/] {markup(result.error)}", highlight=False, soft_wrap=True)
    return 1 if result.status in ("error", "interrupted") else 0


def suspended(stop) -> None:
    """A checkpointed run left to `tracr-agent resume`: one line, the signal's exit code (130, 143, 129)."""
    err_console.print(f"\n{stop}", style="yellow", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(stop.code)


COMMAND_GROUPS = ("tracr_agent.agent.cli.transcripts", "tracr_agent.agent.cli.eval", "tracr_agent.agent.cli.interactive",
                  "tracr_agent.agent.cli.generate")
"""Command groups kept in their own modules; each registers its commands on `app`."""


def _register_more() -> None:
    # No try/except: a group of our own that fails to import is a broken install, and hiding it
    # would silently drop its commands from `tracr-agent --help`. Imports inside stay lazy.
    import importlib

    for mod in COMMAND_GROUPS:
        importlib.import_module(mod).register(app)


_register_more()


def main():
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
