"""Interactive sessions: `tracr-agent run TASK --interactive` and `tracr-agent resume SESSION`.

The graph (agent/loop/graph.py, `interactive=True`) pauses itself with LangGraph's
`interrupt()` before each tool call (review node) and, after the prediction,
for each question (ask node). This module is the person's side of those
pauses: it reads the pending interrupt from the checkpoint, prompts, records
the decision as a HumanEvent in the transcript, and resumes the graph with
`graph.invoke(Command(resume=decision), config)`.

Sessions are resumable: checkpoints and what a resume needs live in the session store
(agent/interactive/store.py). Ctrl-C, Ctrl-D at a prompt, a lost terminal (SIGHUP) or SIGTERM
leave the session open; only a session that wrote its score and end event is finished. A
resumed session goes on where it stopped: the wall-time clock continues from the checkpoint
(`agent_s`), and hints typed before an interruption but not yet handed over (the call was
not decided) reach the agent with the next decision.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.markup import escape

from tracr_agent.agent.backends.replay import skip_used
from tracr_agent.agent.episode import transcript as tr
from tracr_agent.agent.episode.lifecycle import Episode, cut_short_results
from tracr_agent.agent.episode.limits import Limits
from tracr_agent.agent.interactive.store import (
    SessionStore,
    alive,
    driving,
    exit_code,
    raise_if_interrupted,
    peek,
    session_meta,
    sessions_db,
    why_interrupted,
)
from tracr_agent.agent.loop.graph import build_graph, opening_state, recursion_limit
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.output_cap import DEFAULT_CAP_TOKENS


REVIEW_PROMPT = "[a]pprove (Enter) [e]dit [d]eny [h]int [p]ause > "
EDIT_PROMPT = "new arguments (one line of JSON; empty keeps them)> "
DENY_PROMPT = "reason for denying> "
HINT_PROMPT = "hint> "
PAUSE_PROMPT = "paused; press Enter to continue "
QUESTION_PROMPT = "question (empty line or quit ends)> "


def check_options(condition: str, quiet: bool) -> None:
    """`run --interactive` refusals, before anything is loaded."""
    from tracr_agent.tools.suite.conditions import get_condition, with_tools

    if not get_condition(condition).has_tools:
        raise UserError(f"--interactive needs a condition with tools ({', '.join(with_tools())}); "
                        f"{condition!r} is a single prompt")
    if quiet:
        raise UserError("--interactive shows the live view; drop --quiet")


# -- the person's side of the graph ---------------------------------------------------------


class Session:
    def __init__(self, store: SessionStore, sid: str, meta: dict, subject, backend, console: Console,
                 verbose: bool = False, plain: bool = False):
        from tracr_agent.agent.render.live import LiveView

        self.store, self.sid, self.meta, self.subject, self.backend = store, sid, meta, subject, backend
        self.console = console
        self.view = LiveView(console, verbose=verbose, plain=plain)
        self.ended = False
        """The episode's score and end are written (a Ctrl-C after that has nothing to save)."""
        self.answered: dict = {}
        """Results recorded by a step that was cut short (lifecycle.cut_short_results): reused on resume."""
        self.human_s = 0.0
        """Seconds spent waiting for the person, left out of the wall-time limit."""
        self.limits = Limits(**meta["limits"])
        self.episode = Episode(subject, condition=meta["condition"], llm=backend.spec,
                               transcript_path=Path(meta["transcript"]), limits=self.limits,
                               residual=meta.get("residual", "labelled"),
                               cap_tokens=meta["cap_tokens"], seed=meta.get("seed", 0),
                               closed_set=meta.get("closed_set", False), session_id=sid, listeners=[self._show],
                               closed_world=getattr(backend, "closed_world", False))

    @property
    def recorder(self):
        return self.episode.recorder

    def _show(self, ev) -> None:
        try:
            self.view(ev)
        except OSError:  # the terminal is gone (SIGHUP): the transcript still gets the event
            pass

    def _print(self, *args, **kwargs) -> None:
        try:
            self.console.print(*args, **kwargs)
        except OSError:
            pass

    def clock(self) -> float:
        return time.monotonic() - self.human_s

    def _input(self, prompt: str) -> str:
        raise_if_interrupted()
        t0 = time.monotonic()
        try:
            return read_line(prompt)
        except EOFError:
            raise KeyboardInterrupt from None  # Ctrl-D at a prompt: leave the session open
        finally:
            self.human_s += time.monotonic() - t0

    def human(self, step: int, action: str, text: str = "", call_id: Optional[str] = None, args=None) -> None:
        self.recorder.emit(tr.HumanEvent(step=step, action=action, text=text, call_id=call_id, args=args))

    # -- prompts ------------------------------------------------------------------------------

    def _keep_hints(self, hints: list[str]) -> None:
        # Hints wait in the session store until the call is decided: a Ctrl-C in between must not lose them.
        self.meta["pending_hints"] = list(hints)
        self.store.update_meta(self.sid, pending_hints=list(hints))

    def review(self, req: dict) -> dict:
        step, cid, name, args = req["step"], req["call_id"], req["name"], req["args"]
        hints: list[str] = list(self.meta.get("pending_hints") or [])
        if hints:
            self._print(f"[dim]({len(hints)} hint(s) typed before the interruption reach the agent with this "
                        "call's result)[/]")
        of = f" (call {req['index'] + 1} of {req['of']})" if req.get("of", 1) > 1 else ""
        shown = json.dumps(args, ensure_ascii=False)
        self._print(f"[bold yellow]  ? {escape(name)}[/] [yellow]{escape(shown[:300] + ('…' if len(shown) > 300 else ''))}[/]{of}",
                    highlight=False)
        while True:
            choice = self._input(REVIEW_PROMPT).strip().lower()
            if choice in ("", "a", "approve"):
                self.human(step, "approve", name, cid)
                return {"action": "approve", "hints": hints}
            if choice in ("e", "edit"):
                self._print(f"current arguments: {escape(json.dumps(args, ensure_ascii=False))}", highlight=False,
                            soft_wrap=True)
                line = self._input(EDIT_PROMPT).strip()
                if not line:
                    continue
                new, problem = validate_args(name, line)
                if problem:
                    self._print(f"[red]refused:[/] {escape(problem)}", highlight=False, soft_wrap=True)
                    continue
                self.human(step, "edit", name, cid, new)
                return {"action": "edit", "args": new, "hints": hints}
            if choice in ("d", "deny"):
                reason = self._input(DENY_PROMPT).strip() or "no reason given"
                self.human(step, "deny", reason, cid)
                return {"action": "deny", "reason": reason, "hints": hints}
            if choice in ("h", "hint"):
                text = self._input(HINT_PROMPT).strip()
                if text:
                    hints.append(text)
                    self.human(step, "hint", text)
                    self._keep_hints(hints)
                    self._print("[dim](the hint reaches the agent with this call's result)[/]")
                continue
            if choice in ("p", "pause"):
                self.human(step, "pause", "paused")
                t0 = time.monotonic()
                self._input(PAUSE_PROMPT)
                self.human(step, "resume", f"resumed after {time.monotonic() - t0:.1f}s")
                continue
            self._print(f"[red]unknown choice {escape(choice)!r}[/]: a, e, d, h or p")

    def question(self, req: dict) -> str:
        self._print("[bold]Ask the agent about its prediction[/] (tools stay available within the limits).")
        q = self._input(QUESTION_PROMPT).strip()
        if q and q.lower() != "quit":
            self.human(req["step"], "question", q)
        return q

    # -- the loop -----------------------------------------------------------------------------

    def drive(self, first_input: Optional[dict]) -> int:
        from langgraph.types import Command

        from tracr_agent.tools.suite.base import ToolContext

        ctx = ToolContext(condition=self.meta["condition"], cap_tokens=self.meta["cap_tokens"],
                          residual=self.meta.get("residual", "labelled"))
        config = {"recursion_limit": recursion_limit(self.limits),
                  "configurable": {"thread_id": self.sid}}
        saved = self.store.saver.get_tuple(config)
        before = float((saved.checkpoint.get("channel_values") or {}).get("agent_s", 0.0)) if saved else 0.0
        graph = build_graph(self.subject, self.backend, ctx, self.limits, self.recorder,
                            checkpointer=self.store.saver, interactive=True, clock=self.clock,
                            elapsed_before=before, answered=self.answered)
        with driving(self.store, self.sid):
            try:
                snap = graph.get_state(config)
                if first_input is None and not snap.values:
                    first_input = self.initial_input()  # the session never reached its first checkpoint
                else:
                    skip_used(self.backend, snap.values)
                if first_input is not None:
                    graph.invoke(first_input, config, durability="sync")
                elif snap.next and not _pending(snap):
                    graph.invoke(None, config, durability="sync")  # redo the step that was cut short
                while True:
                    snap = graph.get_state(config)
                    pending = _pending(snap)
                    if not pending:
                        break
                    req = pending[0].value
                    decision = self.review(req) if req.get("kind") == "review" else self.question(req)
                    if self.meta.get("pending_hints"):
                        self._keep_hints([])  # from here on the decision, hints included, is in the checkpoint
                    graph.invoke(Command(resume=decision), config, durability="sync")
                return self.finish(graph.get_state(config).values)
            except KeyboardInterrupt as e:
                if self.ended:  # the score and end are written: nothing is left to resume
                    return exit_code(e)
                try:
                    state = graph.get_state(config).values
                except Exception:
                    state = {}
                self.episode.pause(state.get("llm_turns", 0), f"session interrupted ({why_interrupted(e)})")
                self._print(f"\n[yellow]session {self.sid} saved[/] — continue it with: tracr-agent resume {self.sid}",
                            highlight=False)
                return exit_code(e)

    def initial_input(self) -> dict:
        return opening_state(self.subject, self.meta["condition"], self.meta.get("closed_set", False),
                             self.meta.get("residual", "labelled"))

    def finish(self, values: dict) -> int:
        prediction = values.get("prediction")
        if values.get("ended_by") and prediction:
            self._print(f"[dim]questions over: {escape(values['ended_by'])}[/]")
        # a Ctrl-C while scoring leaves the session open like any other: its resume scores it
        result = self.episode.finish(values, resumable=True)
        self.ended = True
        self.store.finish(self.sid)
        if values.get("error"):
            self._print(f"[red]episode error:[/] {escape(values['error'])}")
        self._print(f"transcript: {self.meta['transcript']}", highlight=False, soft_wrap=True)
        self._print(f"session {self.sid} finished", highlight=False)
        return 1 if result.status == "error" else 0


def read_line(prompt: str) -> str:
    """input(prompt), except that Ctrl-C (or SIGHUP, SIGTERM) is never lost at the prompt. The kernel may
    deliver the signal to any thread (LangGraph's, the tools'), and input() waits in a read() that only
    the receiving thread leaves: the session then sat at its prompt until Enter (seen in CI). Waiting
    for the line in 0.1 s select() ticks lets Python raise the interrupt wherever the signal landed."""
    if not sys.stdin.isatty():
        return input(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    while not select.select([sys.stdin], [], [], 0.1)[0]:
        pass
    return input()


def _pending(snap) -> list:
    return [i for task in snap.tasks for i in task.interrupts]


def validate_args(name: str, line: str) -> tuple[Optional[dict], Optional[str]]:
    """(args, None) when `line` is a JSON object the tool's schema accepts, else (None, why not) —
    the same text `call_tool` would give the agent."""
    from pydantic import ValidationError

    from tracr_agent.tools.suite.base import REGISTRY, _describe_validation, _load_all, signature

    _load_all()
    spec = REGISTRY.get(name)
    try:
        args = json.loads(line)
    except json.JSONDecodeError as e:
        expected = f" Expected: {signature(spec)}" if spec else ""
        return None, f"error: arguments for {name} are not valid JSON ({e.msg}).{expected}"
    if not isinstance(args, dict):
        expected = f" Expected: {signature(spec)}" if spec else ""
        return None, f"error: arguments for {name} must be a JSON object.{expected}"
    if spec is not None:
        try:
            spec.args.model_validate(args)
        except ValidationError as e:
            return None, _describe_validation(name, spec, e)
    return args, None


# -- entry points -------------------------------------------------------------------------------


def start_session(subject, backend, *, task: Optional[str], program: Optional[str], model_dir: Optional[str],
                  condition: str, limits: Limits, transcript_path: Path, closed_set: bool = False,
                  cap_tokens: int = DEFAULT_CAP_TOKENS, compat: Optional[str] = None, verbose: bool = False,
                  plain: bool = False,
                  console: Optional[Console] = None, seed: int = 0, residual: str = "labelled") -> int:
    """`run --interactive`: a new session, driven until it finishes or is interrupted. Returns the exit code."""
    console = console or Console()
    check_options(condition, False)
    store = SessionStore()
    sid = store.new_id()
    path = Path(transcript_path).resolve()
    meta = session_meta("interactive", subject, backend.spec, task=task, program=program, model_dir=model_dir,
                        transcript=path, condition=condition, limits=limits, cap_tokens=cap_tokens,
                        closed_set=closed_set, compat=compat, seed=seed, residual=residual)
    store.create(sid, meta)
    session = Session(store, sid, meta, subject, backend, console, verbose, plain)
    session.episode.open()  # a new session never appends to an old file (only `resume` appends)
    console.print(f"session [bold]{sid}[/] · transcript {path}\n"
                  f"[dim]Ctrl-C leaves the session saved; continue it with: tracr-agent resume {sid}[/]",
                  highlight=False, soft_wrap=True)
    try:
        return session.drive(session.initial_input())
    finally:
        store.close()


def resume_session(sid: str, *, verbose: bool = False, console: Optional[Console] = None, plain: bool = False,
                   err_console: Optional[Console] = None) -> int:
    """`tracr-agent resume SESSION`: continue from the last checkpoint, appending to the same transcript."""
    from tracr_agent.agent.backends.llm import make_backend
    from tracr_agent.tools.subjects.load import load_subject

    console = console or Console()
    db = sessions_db()
    row = peek(sid)
    if row is None:
        raise UserError(f"unknown session {sid!r} (sessions are kept in {db})")
    status, meta = row
    if status == "finished":
        raise UserError(f"session {sid} is finished (transcript: {meta['transcript']})")
    if meta.get("pid") and meta["pid"] != os.getpid() and alive(meta["pid"]):
        raise UserError(f"session {sid} is being driven by another process (pid {meta['pid']}); "
                        "finish or interrupt it there first")
    path = Path(meta["transcript"])
    if not path.is_file():
        raise UserError(f"session {sid}: its transcript {path} is gone, so the session cannot continue")
    tr.drop_torn_tail(path)  # an event half-written when the process was killed never happened
    events, problem = tr.read_transcript(path, strict=False)
    if problem:
        raise UserError(f"session {sid}: {problem}; the session cannot continue in a damaged transcript")
    if any(isinstance(e, tr.EndEvent) for e in events):  # ended, but killed before its row was closed
        closing = SessionStore(db)
        try:
            closing.finish(sid)
        finally:
            closing.close()
        raise UserError(f"session {sid} is finished (transcript: {meta['transcript']})")
    last_t = max((e.t for e in events), default=0.0)
    backend = None if meta.get("kind") == "lab" else make_backend(meta["llm"], meta.get("compat"))
    subject = load_subject(**meta["subject"])
    if subject.fingerprint != meta["fingerprint"]:
        raise UserError(f"session {sid}: the subject changed since the session started "
                        f"(fingerprint {subject.fingerprint[:12]}, was {meta['fingerprint'][:12]})")
    store = SessionStore(db)
    if meta.get("kind") == "lab":  # a lab is resumed the same way, by its own REPL
        from tracr_agent.agent.interactive.lab import Lab

        console.print(f"resuming lab [bold]{sid}[/] · {meta['condition']} · transcript {path} "
                      f"({len(events)} events so far)", highlight=False, soft_wrap=True)
        lab = Lab(subject, condition=meta["condition"], transcript_path=path, cap_tokens=meta["cap_tokens"],
                  console=console, residual=meta.get("residual", "labelled"), plain=plain, store=store, sid=sid)
        try:
            return lab.loop(resumed=events)
        finally:
            store.close()
    if meta.get("kind") == "run":
        try:
            return _resume_run(store, sid, meta, events, subject, backend, console, err_console or Console(stderr=True),
                               verbose, plain)
        finally:
            store.close()
    session = Session(store, sid, meta, subject, backend, console, verbose, plain)
    session.answered = cut_short_results(events)
    session.episode.reopen(last_t)
    console.print(f"resuming session [bold]{sid}[/] · {meta['condition']} · {meta['llm']} · "
                  f"transcript {path} ({len(events)} events so far)", highlight=False, soft_wrap=True)
    last_turn = next((e for e in reversed(events) if isinstance(e, tr.LLMResponse)), None)
    if last_turn is not None:  # where it stopped: the agent's last turn
        session._show(last_turn)
    # the live view's counters continue where the transcript left off
    session.view.continue_from(events)
    session.human(last_turn.step if last_turn else 0, "resume", "session resumed")
    try:
        return session.drive(None)
    finally:
        store.close()


def _resume_run(store, sid: str, meta: dict, events: list, subject, backend, console: Console, err_console: Console,
                verbose: bool, plain: bool) -> int:
    """`resume` of a plain `run`: the live view (unless the run was --quiet), then what `run` prints."""
    from tracr_agent.agent.episode.resumable import RunSuspended, resume_run
    from tracr_agent.agent.render.live import LiveView, print_run_result

    quiet = bool(meta.get("quiet"))
    view = None if quiet else LiveView(console, verbose=verbose, plain=plain).continue_from(events)
    console.print(f"resuming run [bold]{sid}[/] · {meta['condition']} · {meta['llm']} · transcript {meta['transcript']} "
                  f"({len(events)} events so far)", highlight=False, soft_wrap=True)
    try:
        result = resume_run(store, sid, meta, events, subject, backend, listeners=[view] if view else [])
    except RunSuspended as stop:
        err_console.print(f"\n{stop}", style="yellow", highlight=False, markup=False, soft_wrap=True)
        return stop.code
    return print_run_result(result, console, err_console, quiet)
