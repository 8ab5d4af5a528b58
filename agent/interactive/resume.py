"""`tracr-agent resume SESSION`: continue any suspended episode — a plain run, an interactive
session, or a lab — where it stopped, in the same transcript.

The session store's row (agent/episode/store.py) holds the episode's `EpisodeConfig` and its kind;
the kind picks the driver (AgentDriver, SessionDriver, LabDriver) and `drive` (agent/episode/drive.py)
does the rest, exactly as when the episode started.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from rich.console import Console

from tracr_agent.agent.episode.drive import AgentDriver, Suspended, drive
from tracr_agent.agent.episode.lifecycle import Episode
from tracr_agent.agent.episode.store import SessionStore, alive, peek, row_config, sessions_db
from tracr_agent.agent.interactive.lab import LabDriver
from tracr_agent.agent.interactive.session import SessionDriver
from tracr_agent.agent.investigators.registry import backend_for
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.render.live import LiveView, print_run_result
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.untrusted.text import markup
from tracr_agent.agent.render.terminal import SafeConsole


def status_line(kind: str, sid: str, config, path, events: list) -> str:
    """What `resume` prints first, before anything loads: which episode goes on, and its counters so far."""
    what = {"run": "run", "lab": "lab"}.get(kind, "session")
    who = "" if kind == "lab" else f" · {markup(config.llm)}"
    return (f"resuming {what} [bold]{markup(sid)}[/] · {markup(config.condition)}{who} · transcript {markup(path)} "
            f"({len(events)} events so far) " + LiveView().continue_from(events).counters())


def resume_session(sid: str, *, verbose: bool = False, console: Optional[Console] = None, plain: bool = False,
                   err_console: Optional[Console] = None, on_start=None) -> int:
    """Continues the session from its last checkpoint, appending to the same transcript; returns the exit code.
    Its status line comes first, then `on_start()` (the sandbox's line), then the subject loads."""
    console = console or SafeConsole()
    err_console = err_console or SafeConsole(stderr=True)
    db = sessions_db()
    row = peek(sid)
    if row is None:
        raise UserError(f"unknown session {sid!r} (sessions are kept in {db})")
    status, meta = row
    if status == "finished":
        raise UserError(f"session {sid} is finished (transcript: {meta['transcript']})")
    if isinstance(meta.get("pid"), int) and meta["pid"] != os.getpid() and alive(meta["pid"]):
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
    config = row_config(meta)
    kind = meta.get("kind", "interactive")
    console.print(status_line(kind, sid, config, path, events), highlight=False, soft_wrap=True)
    if on_start is not None:
        on_start()
    backend = None if kind == "lab" else backend_for(config)
    subject = config.subject.load()
    if subject.fingerprint != meta["fingerprint"]:
        raise UserError(f"session {sid}: the subject changed since the session started "
                        f"(fingerprint {subject.fingerprint[:12]}, was {meta['fingerprint'][:12]})")
    store = SessionStore(db)
    try:
        if kind == "lab":
            driver = LabDriver(subject, config, console=console, plain=plain)
            episode = Episode(subject, config, transcript_path=path, session_id=sid, actor="human")
            return driver.run(episode, store, resumed=events)
        if kind == "run":
            return _resume_run(store, sid, meta, config, events, subject, backend, console, err_console, verbose, plain)
        driver = SessionDriver(backend, console, meta, verbose, plain)
        episode = Episode(subject, config, transcript_path=path, session_id=sid, listeners=[driver.show],
                          closed_world=backend.closed_world)
        last_turn = next((e for e in reversed(events) if isinstance(e, tr.LLMResponse)), None)
        if last_turn is not None:  # where it stopped: the agent's last turn
            driver.show(last_turn)
        driver.view.continue_from(events)  # the live view's counters go on where the transcript left off
        return driver.run(episode, store, resumed=events)
    finally:
        store.close()


def _resume_run(store, sid: str, meta: dict, config, events: list, subject, backend, console: Console,
                err_console: Console, verbose: bool, plain: bool) -> int:
    """`resume` of a plain `run`: the live view (unless the run was --quiet), then what `run` prints."""
    quiet = bool(meta.get("quiet"))
    view = None if quiet else LiveView(console, verbose=verbose, plain=plain).continue_from(events)
    episode = Episode(subject, config, transcript_path=Path(meta["transcript"]), session_id=sid,
                      listeners=[view] if view else [], closed_world=backend.closed_world)
    try:
        result = drive(episode, AgentDriver(backend), store=store, resumed=events)
    except Suspended as stop:
        err_console.print(f"\n{stop}", style="yellow", highlight=False, markup=False, soft_wrap=True)
        return stop.code
    return print_run_result(result, console, err_console, quiet)
