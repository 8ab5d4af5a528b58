"""Interactive sessions: `tracr-agent run TASK --interactive` (and their `resume`, agent/interactive/resume.py).

`SessionDriver` is the driver (agent/episode/drive.py) of such an episode. The graph (agent/loop/graph.py, `interactive=True`) pauses itself with LangGraph's
`interrupt()` before each tool call (review node) and, after the prediction,
for each question (ask node). This module is the person's side of those
pauses: it reads the pending interrupt from the checkpoint, prompts, records
the decision as a HumanEvent in the transcript, and resumes the graph with
`graph.invoke(Command(resume=decision), config)`.

Sessions are resumable: checkpoints and what a resume needs live in the session store
(agent/episode/store.py), and `drive` leaves an interrupted session to `tracr-agent resume`. Ctrl-C, Ctrl-D at a prompt, a lost terminal (SIGHUP) or SIGTERM
leave the session open; only a session that wrote its score and end event is finished. A
resumed session goes on where it stopped: the wall-time clock continues from the checkpoint
(`agent_s`), and hints typed before an interruption but not yet handed over (the call was
not decided) reach the agent with the next decision.
"""

from __future__ import annotations

import json
import select
import sys
import time
from pathlib import Path
from typing import Optional

from rich.console import Console

from langgraph.types import Command
from pydantic import ValidationError

from tracr_agent.agent.backends.replay import skip_used
from tracr_agent.agent.episode.drive import Driver, Suspended, cut_short_results, open_row
from tracr_agent.agent.episode.lifecycle import Episode
from tracr_agent.agent.episode.store import SessionStore, raise_if_interrupted
from tracr_agent.agent.loop.graph import build_graph, opening_state, recursion_limit
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig
from tracr_agent.agent.render.live import LiveView
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.text import markup
from tracr_agent.tools.suite.base import REGISTRY, ToolContext, describe_validation, load_all, signature
from tracr_agent.tools.conditions import get_condition, with_tools
from tracr_agent.agent.render.terminal import SafeConsole, text_input


REVIEW_PROMPT = "[a]pprove (Enter) [e]dit [d]eny [h]int [p]ause > "
EDIT_PROMPT = "new arguments (one line of JSON; empty keeps them)> "
DENY_PROMPT = "reason for denying> "
HINT_PROMPT = "hint> "
PAUSE_PROMPT = "paused; press Enter to continue "
QUESTION_PROMPT = "question (empty line or quit ends)> "


def check_options(condition: str, quiet: bool) -> None:
    """`run --interactive` refusals, before anything is loaded."""
    if not get_condition(condition).has_tools:
        raise UserError(f"--interactive needs a condition with tools ({', '.join(with_tools())}); "
                        f"{condition!r} is a single prompt")
    if quiet:
        raise UserError("--interactive shows the live view; drop --quiet")


# -- the person's side of the graph ---------------------------------------------------------


class SessionDriver(Driver):
    """A chat model investigates through the interactive graph; a person reviews each call and asks
    questions after the prediction (see the module docstring)."""

    kind = "interactive"
    noun = "session"
    warm_up = False

    def __init__(self, backend, console: Console, meta: dict, verbose: bool = False, plain: bool = False):
        self.backend, self.console, self.meta = backend, console, meta
        self.view = LiveView(console, verbose=verbose, plain=plain)
        self.episode: Optional[Episode] = None
        self.human_s = 0.0
        """Seconds spent waiting for the person, left out of the wall-time limit."""

    @property
    def recorder(self):
        return self.episode.recorder

    def show(self, ev) -> None:
        """The live view as the episode's listener (the terminal may be gone: the transcript still has it)."""
        try:
            self.view(ev)
        except OSError:
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
            return read_line(prompt, self.console)
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
        self.store.update_meta(self.episode.session_id, pending_hints=list(hints))

    def review(self, req: dict) -> dict:
        step, cid, name, args = req["step"], req["call_id"], req["name"], req["args"]
        hints: list[str] = list(self.meta.get("pending_hints") or [])
        if hints:
            self._print(f"[dim]({len(hints)} hint(s) typed before the interruption reach the agent with this "
                        "call's result)[/]")
        of = f" (call {req['index'] + 1} of {req['of']})" if req.get("of", 1) > 1 else ""
        shown = json.dumps(args, ensure_ascii=False)
        self._print(f"[bold yellow]  ? {markup(name)}[/] [yellow]{markup(shown[:300] + ('…' if len(shown) > 300 else ''))}[/]{of}",
                    highlight=False)
        while True:
            choice = self._input(REVIEW_PROMPT).strip().lower()
            if choice in ("", "a", "approve"):
                self.human(step, "approve", name, cid)
                return {"action": "approve", "hints": hints}
            if choice in ("e", "edit"):
                self._print(f"current arguments: {markup(json.dumps(args, ensure_ascii=False))}", highlight=False,
                            soft_wrap=True)
                line = self._input(EDIT_PROMPT).strip()
                if not line:
                    continue
                new, problem = validate_args(name, line)
                if problem:
                    self._print(f"[red]refused:[/] {markup(problem)}", highlight=False, soft_wrap=True)
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
            self._print(f"[red]unknown choice {markup(choice)!r}[/]: a, e, d, h or p")

    def question(self, req: dict) -> str:
        self._print("[bold]Ask the agent about its prediction[/] (tools stay available within the limits).")
        q = self._input(QUESTION_PROMPT).strip()
        if q and q.lower() != "quit":
            self.human(req["step"], "question", q)
        return q

    # -- the loop -----------------------------------------------------------------------------

    def investigate(self, episode: Episode, resumed: Optional[list]) -> dict:
        """Drives the interactive graph from its checkpoint (or its opening) through every pause to
        its end; returns the final state (the outcome)."""
        self.episode = episode
        config = episode.config
        ctx = ToolContext(condition=config.condition, cap_tokens=config.cap_tokens, residual=config.residual,
                          seed=config.seed)
        graph_config = {"recursion_limit": recursion_limit(config.limits),
                        "configurable": {"thread_id": episode.session_id}}
        saved = self.store.saver.get_tuple(graph_config)
        before = float((saved.checkpoint.get("channel_values") or {}).get("agent_s", 0.0)) if saved else 0.0
        backend = self.backend.with_limits(config.limits)
        graph = build_graph(episode.subject, backend, ctx, config.limits, self.recorder,
                            checkpointer=self.store.saver, interactive=True, clock=self.clock,
                            elapsed_before=before, answered=cut_short_results(resumed or []),
                            trim=config.trim_tool_outputs)
        snap = graph.get_state(graph_config)
        first_input = None
        if not snap.values:  # a new session, or one that never reached its first checkpoint
            first_input = opening_state(episode.subject, config, backend.priced)
        else:
            skip_used(backend, snap.values)
        if first_input is not None:
            graph.invoke(first_input, graph_config, durability="sync")
        elif snap.next and not _pending(snap):
            graph.invoke(None, graph_config, durability="sync")  # redo the step that was cut short
        while True:
            snap = graph.get_state(graph_config)
            pending = _pending(snap)
            if not pending:
                break
            req = pending[0].value
            decision = self.review(req) if req.get("kind") == "review" else self.question(req)
            if self.meta.get("pending_hints"):
                self._keep_hints([])  # from here on the decision, hints included, is in the checkpoint
            graph.invoke(Command(resume=decision), graph_config, durability="sync")
        values = graph.get_state(graph_config).values
        if values.get("ended_by") and values.get("prediction"):
            self._print(f"[dim]questions over: {markup(values['ended_by'])}[/]")
        return values

    def report(self, result) -> int:
        """What the session prints once it ended; returns the exit code."""
        if result.error:
            self._print(f"[red]episode error:[/] {markup(result.error)}")
        self._print(f"transcript: {self.meta['transcript']}", highlight=False, markup=False, soft_wrap=True)
        self._print(f"session {self.episode.session_id} finished", highlight=False)
        return 1 if result.status == "error" else 0

    def report_suspended(self, stop: Suspended) -> int:
        self._print(f"\n[yellow]session {stop.sid} saved[/] — continue it with: tracr-agent resume {stop.sid}",
                    highlight=False)
        return stop.code


def read_line(prompt: str, console: Optional[Console] = None) -> str:
    """input(prompt), except that Ctrl-C (or SIGHUP, SIGTERM) is never lost at the prompt. The kernel may
    deliver the signal to any thread (LangGraph's, the tools'), and input() waits in a read() that only
    the receiving thread leaves: the session then sat at its prompt until Enter (seen in CI). Waiting
    for the line in 0.1 s select() ticks lets Python raise the interrupt wherever the signal landed.
    Bytes that are not UTF-8 are refused with one line (render/terminal.py `text_input`)."""
    console = console or SafeConsole()
    if not sys.stdin.isatty():
        return text_input(prompt, console)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    while not select.select([sys.stdin], [], [], 0.1)[0]:
        pass
    return text_input("", console)


def _pending(snap) -> list:
    return [i for task in snap.tasks for i in task.interrupts]


def validate_args(name: str, line: str) -> tuple[Optional[dict], Optional[str]]:
    """(args, None) when `line` is a JSON object the tool's schema accepts, else (None, why not) —
    the same text `call_tool` would give the agent."""
    load_all()
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
            return None, describe_validation(name, spec, e)
    return args, None


# -- entry points -------------------------------------------------------------------------------


def start_session(subject, backend, config: EpisodeConfig, *, transcript_path: Path, verbose: bool = False,
                  plain: bool = False, console: Optional[Console] = None) -> int:
    """`run --interactive`: a new session, driven until it finishes or is interrupted. Returns the exit code."""
    console = console or SafeConsole()
    check_options(config.condition, False)
    store = SessionStore()
    sid = store.new_id()
    path = Path(transcript_path).resolve()
    driver = SessionDriver(backend, console, {}, verbose, plain)
    episode = Episode(subject, config, transcript_path=path, session_id=sid, listeners=[driver.show],
                      closed_world=backend.closed_world)
    driver.meta = open_row(store, driver, episode)
    console.print(f"session [bold]{sid}[/] · transcript {markup(path)}\n"
                  f"[dim]Ctrl-C leaves the session saved; continue it with: tracr-agent resume {sid}[/]",
                  highlight=False, soft_wrap=True)
    try:
        return driver.run(episode, store)
    finally:
        store.close()
