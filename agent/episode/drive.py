"""The one driver loop: `drive(episode, driver)` takes every episode from its header to its end.

A `run`, an interactive session (`run --interactive`), a lab, each batch episode of `eval`, and
`tracr-agent resume` of any of the first three all go through `drive`. It owns what they share:

- opening the transcript, or (`resumed`: the events of a suspended one) reopening it, with the
  clock going on and a `resume` event;
- with a session store (agent/episode/store.py): marking this process as the one driving the
  session, turning SIGHUP/SIGTERM into interrupts, and, on an interrupt (or a pause the driver
  asks for), recording a `pause` and leaving the episode to `tracr-agent resume` (`Suspended`);
  without one, an interrupt ends the episode as interrupted;
- an investigator that fails: recorded as an error, the episode still ends;
- scoring and the end event (`Episode.finish`), then closing the store row.

What differs is the `Driver`: who investigates. `AgentDriver` pushes a chat model (an LLM or a
built-in investigator) through the graph (agent/loop/graph.py), or asks the one static-dump
question; the interactive session and the lab (agent/interactive/) are drivers too.

Plugging in a new investigator: a "chat model" that emits tool calls (the built-in baselines, a
decompiler, any LLM) needs only a spec in agent/investigators/registry.py; another way to
investigate (like the static dump) is a `Driver` whose `investigate(episode, resumed)` emits its
events to `episode.recorder` and returns the outcome.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

from tracr_agent.agent.backends.replay import skip_used
from tracr_agent.agent.episode.lifecycle import Episode, EpisodeResult, Outcome
from tracr_agent.agent.episode.store import SessionStore, driving, exit_code, session_meta, why_interrupted
from tracr_agent.agent.investigators.static import run_static, static_outcome
from tracr_agent.agent.loop.graph import LLM_GRACE_SECONDS, build_graph, opening_state, recursion_limit
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig
from tracr_agent.tools.subjects.spec import SubjectSpec
from tracr_agent.tools.suite.base import ToolContext, get_condition


class Suspended(Exception):
    """The episode was interrupted (or paused) and left to `tracr-agent resume`: `code` is the shell's
    exit code (130 Ctrl-C, 143 SIGTERM, 129 a lost terminal, 0 a pause asked for)."""

    def __init__(self, sid: str, code: int, noun: str):
        super().__init__(f"{noun} {sid} interrupted; continue it with: tracr-agent resume {sid}")
        self.sid, self.code, self.noun = sid, code, noun


class PauseRequested(Exception):
    """Raised by a driver whose person asked to pause (the lab's `pause`): the episode is suspended."""


class Driver:
    """Who investigates an episode; see the module docstring."""

    kind = "run"
    """The session store's kind for this driver's episodes (`tracr-agent sessions` shows it)."""
    noun = "run"
    """How messages and pause events name the episode."""
    warm_up = True
    """Load TransformerLens in the background while the investigator starts (not where a person is
    at a prompt at once: a Ctrl-C there would wait for the import)."""
    store: Optional[SessionStore] = None
    """Set by `drive` for a checkpointed episode."""

    def investigate(self, episode: Episode, resumed: Optional[list]) -> Outcome:
        raise NotImplementedError

    def report(self, result: EpisodeResult) -> int:
        """What to print once the episode ended; returns the exit code."""
        return 1 if result.status == "error" else 0

    def report_suspended(self, stop: "Suspended") -> int:
        """What to print when the episode was left to `tracr-agent resume`; returns the exit code."""
        return stop.code

    def run(self, episode: Episode, store: Optional[SessionStore] = None, resumed: Optional[list] = None) -> int:
        """`drive` this episode and report how it ended; returns the exit code."""
        try:
            return self.report(drive(episode, self, store=store, resumed=resumed))
        except Suspended as stop:
            return self.report_suspended(stop)


class AgentDriver(Driver):
    """A chat model investigates: through the graph with the condition's tools, or (a condition
    without tools) by answering the one static-dump question."""

    def __init__(self, backend, review=None):
        self.backend = backend
        self.review = review

    def investigate(self, episode: Episode, resumed: Optional[list]) -> Outcome:
        """With a store the graph saves every step under the episode's session id; `resumed` (the
        transcript's events so far) continues such an episode from its last checkpoint: the wall-time
        clock goes on from the time it had used, a step cut short is done again (its tool results
        already recorded are reused, not re-run), and an episode whose investigation had finished
        (cut short while scoring) returns its outcome at once."""
        config = episode.config
        backend = self.backend.with_limits(config.limits)
        if not get_condition(config.condition).has_tools:
            # a static episode is one step: resumed, it has its answer already or asks again
            done = static_outcome(resumed) if resumed else None
            return done or run_static(episode.subject, backend, config, episode.recorder,
                                      remaining=lambda: config.limits.max_seconds + LLM_GRACE_SECONDS - episode.elapsed())
        checkpointer = self.store.saver if self.store is not None else None
        ctx = ToolContext(condition=config.condition, cap_tokens=config.cap_tokens, residual=config.residual,
                          seed=config.seed)
        graph_config = {"recursion_limit": recursion_limit(config.limits),
                        "configurable": {"thread_id": episode.session_id}}
        saved = checkpointer.get_tuple(graph_config) if checkpointer is not None and resumed is not None else None
        values = (saved.checkpoint.get("channel_values") or {}) if saved else {}
        graph = build_graph(episode.subject, backend, ctx, config.limits, episode.recorder, checkpointer=checkpointer,
                            review=self.review, elapsed_before=float(values.get("agent_s", 0.0)),
                            answered=cut_short_results(resumed or []), trim=config.trim_tool_outputs)
        sync = {"durability": "sync"} if checkpointer is not None else {}  # a kill loses no finished step
        if saved is not None:
            snap = graph.get_state(graph_config)
            skip_used(backend, snap.values)
            return graph.invoke(None, graph_config, **sync) if snap.next else snap.values
        return graph.invoke(opening_state(episode.subject, config, backend.priced), graph_config, **sync)


def cut_short_results(events: list) -> dict:
    """call id -> ToolResultEvent for the results recorded after the transcript's last LLM response:
    the step a resumed episode does again (its checkpoint is from before it) already has these."""
    last = max((i for i, e in enumerate(events) if isinstance(e, tr.LLMResponse)), default=None)
    if last is None:
        return {}
    return {e.call_id: e for e in events[last + 1:] if isinstance(e, tr.ToolResultEvent)}


def last_step(events: list) -> int:
    """The step (LLM turn, or the lab's call number) an episode's events reached."""
    return max((e.step for e in events if isinstance(getattr(e, "step", None), int)), default=0)


def drive(episode: Episode, driver: Driver, *, store: Optional[SessionStore] = None,
          resumed: Optional[list] = None) -> EpisodeResult:
    """Opens (or, `resumed`, reopens) the episode, lets the driver investigate, and finishes it.

    With a `store` the episode is its row `episode.session_id`: an interrupt or a requested pause
    records a pause and raises `Suspended`; a finished episode closes its row. Without one, an
    interrupt ends the episode as interrupted. A failing investigator is recorded as an error."""
    if resumed is None:
        episode.open()
    else:
        episode.reopen(max((e.t for e in resumed), default=0.0))
        episode.recorder.emit(tr.HumanEvent(step=last_step(resumed), action="resume", text=f"{driver.noun} resumed"))
    driver.store = store
    sid = episode.session_id
    with driving(store, sid) if store is not None else contextlib.nullcontext():
        try:
            if driver.warm_up:
                episode.subject.warm_up_async()
            try:
                outcome = driver.investigate(episode, resumed)
            except (KeyboardInterrupt, PauseRequested):
                if store is not None:
                    raise
                outcome = {"status": "interrupted"}
            except Exception as e:  # the episode fails, the caller (and a batch) goes on
                episode.recorder.emit(tr.ErrorEvent(message=f"{type(e).__name__}: {e}", where="episode"))
                outcome = {"status": "error", "error": f"{type(e).__name__}: {e}"}
            # checkpointed: a Ctrl-C while scoring suspends the episode, and its resume scores it
            result = episode.finish(outcome, resumable=store is not None)
        except PauseRequested:
            episode.pause(_step_so_far(episode), f"{driver.noun} paused")
            raise Suspended(sid, 0, driver.noun) from None
        except KeyboardInterrupt as e:
            episode.recorder.listeners = []  # the transcript records it; the caller prints one line
            episode.pause(_step_so_far(episode), f"{driver.noun} interrupted ({why_interrupted(e)})")
            raise Suspended(sid, exit_code(e), driver.noun) from None
        if store is not None:
            store.finish(sid)
    return result


def _step_so_far(episode: Episode) -> int:
    return last_step(tr.read_transcript(episode.path, strict=False)[0])


def start_run(store: SessionStore, subject, backend, config: EpisodeConfig, *, transcript_path: Path,
              listeners: Optional[list] = None, **meta) -> EpisodeResult:
    """A new checkpointed `run`: its row in the store (kind "run", `meta` kept with it), then `drive`.
    Interrupted, it raises `Suspended` and `tracr-agent resume` continues it."""
    episode = Episode(subject, config, transcript_path=transcript_path, session_id=store.new_id(),
                      listeners=listeners, closed_world=backend.closed_world)
    driver = AgentDriver(backend)
    open_row(store, driver, episode, **meta)
    return drive(episode, driver, store=store)


def open_row(store: SessionStore, driver: Driver, episode: Episode, **extra) -> dict:
    """The episode's row in the session store, of the driver's kind (what `resume` reads back);
    returns its meta."""
    meta = session_meta(driver.kind, episode.config, episode.subject, episode.path, **extra)
    store.create(episode.session_id, meta)
    return meta


def run_episode(subject, backend, config: Optional[EpisodeConfig] = None, *, transcript_path: Path,
                listeners: Optional[list] = None, judge=None, score: bool = True, review=None,
                **settings) -> EpisodeResult:
    """One whole episode headless (no store: a batch episode, a script, a test): `config`, or one
    made from `settings` (EpisodeSettings fields) for this subject and backend."""
    if config is None:
        config = EpisodeConfig(subject=SubjectSpec.of(subject), llm=backend.spec, **{**backend.sampling(), **settings})
    episode = Episode(subject, config, transcript_path=transcript_path, listeners=listeners, judge=judge,
                      score=score, closed_world=backend.closed_world)
    return drive(episode, AgentDriver(backend, review=review))
