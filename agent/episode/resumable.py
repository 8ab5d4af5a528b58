"""A plain `tracr-agent run` checkpointed in the session store, so a killed run can be resumed.

`start_run` opens a row of kind `run` in the session store (agent/interactive/store.py), the
transcript with its header, and drives the episode with the store's checkpointer under the
row's id (the header's `session_id`). Every step of the graph is checkpointed; the row is
closed (and its checkpoints dropped) when the episode ends. Ctrl-C, SIGTERM or a lost terminal
record a `pause`, leave the transcript without an end and raise `RunSuspended`: `tracr-agent
resume ID` (`resume_run`) reopens the same transcript and goes on from the last checkpoint, its
wall-time clock and counters continuing, and ends with one score and one end like any episode.
A run killed outright (SIGKILL, a reboot) stays listed by `tracr-agent sessions` and resumes the
same way. Every investigator and condition goes through here (the static dump is one step: its
resume asks again unless the answer is already recorded). `eval` does not (see README: its
batch-level `--resume` already continues a killed batch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tracr_agent.agent.episode import transcript as tr
from tracr_agent.agent.episode.lifecycle import Episode, EpisodeResult, drive_episode
from tracr_agent.agent.episode.limits import Limits
from tracr_agent.agent.interactive.store import SessionStore, driving, exit_code, why_interrupted


class RunSuspended(Exception):
    """The run was interrupted and left to `tracr-agent resume`: `code` is the shell's exit code."""

    def __init__(self, sid: str, code: int):
        super().__init__(f"run {sid} interrupted; continue it with: tracr-agent resume {sid}")
        self.sid, self.code = sid, code


def episode_for(meta: dict, sid: str, subject, backend, listeners: list, path: Optional[Path] = None) -> Episode:
    """The run's `Episode`, rebuilt the same way at start and at every resume from the row's meta
    (`path`: the transcript as the user named it, else the row's absolute path)."""
    return Episode(subject, condition=meta["condition"], residual=meta.get("residual", "labelled"), llm=backend.spec,
                   transcript_path=path or Path(meta["transcript"]), limits=Limits(**meta["limits"]),
                   cap_tokens=meta["cap_tokens"], seed=meta.get("seed", 0), closed_set=meta.get("closed_set", False),
                   session_id=sid, listeners=listeners, closed_world=getattr(backend, "closed_world", False))


def start_run(store: SessionStore, meta: dict, subject, backend, *, listeners: list,
              transcript_path: Optional[Path] = None) -> EpisodeResult:
    """A new checkpointed run (meta: store.session_meta("run", …) with static_hooks/static_inputs)."""
    sid = store.new_id()
    store.create(sid, meta)
    episode = episode_for(meta, sid, subject, backend, listeners, transcript_path).open()
    return _drive(store, sid, meta, episode, backend, resumed=None)


def resume_run(store: SessionStore, sid: str, meta: dict, events: list, subject, backend, *,
               listeners: list) -> EpisodeResult:
    """Continues a suspended run in its transcript (`events`: what it holds so far)."""
    episode = episode_for(meta, sid, subject, backend, listeners)
    episode.reopen(max((e.t for e in events), default=0.0))
    episode.recorder.emit(tr.HumanEvent(step=_last_step(events), action="resume", text="run resumed"))
    return _drive(store, sid, meta, episode, backend, resumed=events)


def _last_step(events: list) -> int:
    return max((e.step for e in events if isinstance(e, (tr.LLMRequest, tr.LLMResponse))), default=0)


def _drive(store: SessionStore, sid: str, meta: dict, episode: Episode, backend, resumed: Optional[list]) -> EpisodeResult:
    with driving(store, sid):
        try:
            result = drive_episode(episode, backend, resumable=True, resumed=resumed, checkpointer=store.saver,
                                   static_hooks=meta.get("static_hooks"), static_inputs=meta.get("static_inputs"))
        except KeyboardInterrupt as e:
            step = _last_step(tr.read_transcript(episode.path, strict=False)[0])
            episode.recorder.listeners = []  # the transcript records it; the caller prints the one line
            episode.pause(step, f"run interrupted ({why_interrupted(e)})")
            raise RunSuspended(sid, exit_code(e)) from None
    store.finish(sid)
    return result
