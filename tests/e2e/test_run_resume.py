"""A plain `tracr-agent run` is checkpointed, listed and resumed like every episode (issue 11 item 9).

Through the real CLI (in subprocesses where a signal reaches it): a run whose LLM (a scripted
OpenAI-compatible server on 127.0.0.1) is kept waiting is interrupted with SIGINT, listed by `sessions --json`, resumed, cut
short again with SIGTERM, and resumed to its end — in one transcript with one header, one score,
one end, tool calls numbered on and the clock going on. A run that ends normally leaves no open
row; a store that cannot be written is one warning and the run goes on. In process: every
deterministic investigator (open-world and closed-world baselines, decompiler, replay) and the
static dump, interrupted mid-step, resumes to the same prediction as an uninterrupted episode.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from provider_server import ProviderServer
from terminal import cli, events_of, of_type

from tracr_agent.agent.records import transcript as tr

CLI = [sys.executable, "-c", "from tracr_agent.agent.cli.main import main; main()"]
TIMEOUT = 240
HANG = 300.0  # a request the server answers only after the test is over
SUBMIT = {"label": "reverse", "description": "the input read back to front",
          "implementation": "def f(tokens):\n    return tokens[::-1]\n", "confidence": 0.9}


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ, COLUMNS="120", NO_COLOR="1", TRACR_AGENT_SESSIONS=str(tmp_path / "sessions.sqlite"))
    e.pop("TRACR_AGENT_LLM", None)
    return e


def listed(env) -> dict:
    p = cli(env, "sessions", "--json")
    assert p.returncode == 0, p.stderr
    return {r["id"]: r for r in json.loads(p.stdout)}


def interrupt_when_asked(env, server, n_requests: int, sig: int, *args) -> subprocess.CompletedProcess:
    """Runs the CLI until the server has received its n-th request (the process then waits on the
    LLM, mid-episode), sends `sig`, and returns the finished process."""
    proc = subprocess.Popen([*CLI, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(server.requests) < n_requests and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        assert len(server.requests) == n_requests
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def resume_line(p, sid: str) -> None:
    """The interrupted run says how to go on, in one line, without a traceback."""
    assert "Traceback" not in p.stderr + p.stdout
    lines = [ln for ln in p.stderr.splitlines() if "resume" in ln]
    assert lines == [f"run {sid} interrupted; continue it with: tracr-agent resume {sid}"], p.stderr


@pytest.mark.slow  # three CLI episodes (~50 s on this machine under load): full suite only
def test_sigint_then_sigterm_then_resume_finishes_in_one_transcript(env, tmp_path, reverse_subject):
    # reverse_subject: compiled (and cached) beforehand, so the child loads it from the cache
    server = ProviderServer([("First, the architecture.", [("model_info", {})]), HANG])
    path = tmp_path / "run.jsonl"
    try:
        p = interrupt_when_asked(env, server, 2, signal.SIGINT, "run", "reverse", "--llm",
                                 f"openai-compatible:fake@{server.url}/v1", "--transcript", path)
        assert p.returncode == 130, p.stderr
        header = events_of(path)[0]
        sid = header.session_id
        resume_line(p, sid)
        before = events_of(path)
        assert not of_type(before, tr.EndEvent) and len(of_type(before, tr.ToolCallEvent)) == 1

        row = listed(env)[sid]
        assert (row["kind"], row["subject"], row["condition"], row["running"]) == ("run", "reverse", "full", False)
        assert row["llm"] == f"openai-compatible:fake@{server.url}/v1" and row["age_s"] >= 0
        assert row["where"] == "turn 2: waiting for the LLM (1 tool calls so far)"

        server.script += [("", [("run_model", {"inputs": [["a", "b", "c"]]})]), HANG]
        p = interrupt_when_asked(env, server, 4, signal.SIGTERM, "resume", sid)
        assert p.returncode == 143, p.stderr
        resume_line(p, sid)
        assert f"resuming run {sid}" in p.stdout
        assert listed(env)[sid]["where"] == "turn 3: waiting for the LLM (2 tool calls so far)"

        server.script += [("", [("submit_prediction", SUBMIT)])]
        p = cli(env, "resume", sid)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "score: label correct" in p.stdout and f"transcript: {path}" in p.stdout
        # the status line comes first, before anything loads, with the counters the episode goes on from
        first = p.stdout.splitlines()[0]
        assert first.startswith(f"resuming run {sid}") and "tools 2 · tokens" in first, p.stdout
    finally:
        server.close()

    ev = events_of(path)
    assert ev[:len(before)] == before                           # appended, never rewritten
    assert len(of_type(ev, tr.Header)) == len(of_type(ev, tr.ScoreEvent)) == len(of_type(ev, tr.EndEvent)) == 1
    assert isinstance(ev[-1], tr.EndEvent) and ev[-1].status == "prediction"
    assert of_type(ev, tr.ScoreEvent)[0].score.functional.correct
    calls = of_type(ev, tr.ToolCallEvent)
    assert [c.name for c in calls] == ["model_info", "run_model", "submit_prediction"]
    assert len({c.call_id for c in calls}) == 3 and [c.step for c in calls] == [1, 2, 3]
    assert (ev[-1].tool_calls, ev[-1].llm_turns) == (3, 3)      # counters went on from the checkpoints
    # turns 2 and 3 were each asked for, cut short, and asked for again after the resume
    assert [r.step for r in of_type(ev, tr.LLMRequest)] == [1, 2, 2, 3, 3]
    assert [r.step for r in of_type(ev, tr.LLMResponse)] == [1, 2, 3]
    assert [h.action for h in of_type(ev, tr.HumanEvent)] == ["pause", "resume", "pause", "resume"]
    assert "(Ctrl-C)" in of_type(ev, tr.HumanEvent)[0].text and "(SIGTERM)" in of_type(ev, tr.HumanEvent)[2].text
    times = [e.t for e in ev]
    assert times == sorted(times)                               # the clock continues across processes
    assert ev[-1].duration_s >= of_type(ev, tr.HumanEvent)[2].t > 0
    assert sid not in listed(env)
    p = cli(env, "resume", sid)
    assert p.returncode == 2 and p.stderr.strip() == f"error: session {sid} is finished (transcript: {path})"
    p = cli(env, "replay", path)
    assert p.returncode == 0 and "human pause: run interrupted (Ctrl-C)" in p.stdout, p.stderr


@pytest.mark.slow  # two CLI episodes (~30 s under load): full suite only
def test_a_run_killed_outright_resumes_after_its_torn_last_line(env, tmp_path, reverse_subject):
    server = ProviderServer([("First, the architecture.", [("model_info", {})]), HANG])
    path = tmp_path / "killed.jsonl"
    try:
        p = interrupt_when_asked(env, server, 2, signal.SIGKILL, "run", "reverse", "--llm",
                                 f"openai-compatible:fake@{server.url}/v1", "--quiet", "--transcript", path)
        assert p.returncode == -signal.SIGKILL
        sid = events_of(path)[0].session_id
        with open(path, "a", encoding="utf-8") as fh:  # what a kill in the middle of a write leaves
            fh.write('{"t": 9.5, "type": "llm_resp')
        row = listed(env)[sid]
        assert (row["kind"], row["running"], row["where"]) == ("run", False, "turn 2: waiting for the LLM (1 tool calls so far)")

        server.script += [("", [("submit_prediction", SUBMIT)])]
        p = cli(env, "resume", sid)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "prediction: reverse  (prediction)" in p.stdout   # --quiet is remembered
    finally:
        server.close()
    ev = events_of(path)                                        # whole lines only: the torn one is gone
    assert len(of_type(ev, tr.Header)) == len(of_type(ev, tr.ScoreEvent)) == len(of_type(ev, tr.EndEvent)) == 1
    assert [h.action for h in of_type(ev, tr.HumanEvent)] == ["resume"]
    assert [c.name for c in of_type(ev, tr.ToolCallEvent)] == ["model_info", "submit_prediction"]
    assert ev[-1].status == "prediction" and ev[-1].tool_calls == 2 and sid not in listed(env)


def test_a_run_that_ends_leaves_no_open_row_and_no_checkpoints(env, tmp_path, reverse_subject):
    import sqlite3

    path = tmp_path / "done.jsonl"
    r = cli(env, "run", "reverse", "--llm", "baseline-closed", "--quiet", "--transcript", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stdout + r.stderr
    sid = events_of(path)[0].session_id
    db = sqlite3.connect(env["TRACR_AGENT_SESSIONS"])
    assert db.execute("SELECT status FROM tracr_sessions WHERE id = ?", (sid,)).fetchall() == [("finished",)]
    assert db.execute("SELECT COUNT(*) FROM checkpoints").fetchone() == (0,)
    r = cli(env, "sessions", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []

    # killed after the end was written but before the row was closed: resume refuses and closes it
    db.execute("UPDATE tracr_sessions SET status = 'open' WHERE id = ?", (sid,))
    db.commit()
    r = cli(env, "resume", sid)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == f"error: session {sid} is finished (transcript: {path})"
    assert db.execute("SELECT status FROM tracr_sessions WHERE id = ?", (sid,)).fetchall() == [("finished",)]
    assert len(of_type(events_of(path), tr.EndEvent)) == 1


def test_an_unusable_store_is_one_warning_and_the_run_goes_on(env, tmp_path, reverse_subject):
    (tmp_path / "a-file").write_text("not a directory")
    env["TRACR_AGENT_SESSIONS"] = str(tmp_path / "a-file" / "sessions.sqlite")
    path = tmp_path / "unstored.jsonl"
    r = cli(env, "run", "reverse", "--llm", "baseline-closed", "--quiet", "--transcript", path)
    assert r.returncode == 0, r.stdout + r.stderr
    warnings = [ln for ln in (r.stdout + r.stderr).splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "cannot be resumed" in warnings[0] and "a-file" in warnings[0], r.stdout + r.stderr
    assert events_of(path)[-1].status == "prediction"


# -- every deterministic investigator and the static dump continue correctly ---------------------


class Interrupt:
    """A listener that presses Ctrl-C once, when the n-th event of a type is emitted."""

    def __init__(self, cls, n: int):
        self.cls, self.n, self.seen = cls, n, 0

    def __call__(self, ev) -> None:
        if isinstance(ev, self.cls):
            self.seen += 1
            if self.seen == self.n:
                raise KeyboardInterrupt


def interrupted_then_resumed(subject, spec: str, tmp_path, condition: str, stop: Interrupt, limits=None,
                             make_backend=None):
    """A run stopped by `stop`, then resumed to its end (a new backend from `make_backend(spec)`, as a
    new process would build): (result, transcript events)."""
    from tracr_agent.agent.episode.drive import AgentDriver, Suspended, drive, start_run
    from tracr_agent.agent.episode.lifecycle import Episode
    from tracr_agent.agent.episode.store import SessionStore
    from tracr_agent.agent.records.config import EpisodeConfig
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.tools.subjects.spec import SubjectSpec

    if make_backend is None:
        from tracr_agent.agent.investigators.registry import make_backend
    store = SessionStore(tmp_path / "sessions.sqlite")
    path = tmp_path / f"{spec.split(':')[0]}-{condition}.jsonl"
    config = EpisodeConfig(subject=SubjectSpec.of(subject), condition=condition, llm=spec, limits=limits or Limits())
    try:
        with pytest.raises(Suspended) as stopped:
            start_run(store, subject, make_backend(spec), config, transcript_path=path, listeners=[stop])
        assert stopped.value.code == 130
        sid = stopped.value.sid
        assert [r[0] for r in store.rows(status="open")] == [sid]
        events = events_of(path)
        backend = make_backend(spec)
        episode = Episode(subject, config, transcript_path=path, session_id=sid, closed_world=backend.closed_world)
        result = drive(episode, AgentDriver(backend), store=store, resumed=events)
        assert store.rows(status="open") == []
    finally:
        store.close()
    return result, events_of(path)


def uninterrupted(subject, spec: str, tmp_path, condition: str):
    from tracr_agent.agent.investigators.registry import make_backend
    from tracr_agent.agent.episode.drive import run_episode

    path = tmp_path / f"whole-{spec.split(':')[0]}-{condition}.jsonl"
    return run_episode(subject, make_backend(spec), condition=condition, transcript_path=path), events_of(path)


def assert_same_episode(resumed, whole) -> None:
    (r, rev), (w, wev) = resumed, whole
    assert r.prediction == w.prediction and r.status == w.status == "prediction"
    assert (r.tool_calls, r.llm_turns) == (w.tool_calls, w.llm_turns)
    assert r.score.label == w.score.label and r.score.functional.correct and w.score.functional.correct
    assert len(of_type(rev, tr.Header)) == len(of_type(rev, tr.ScoreEvent)) == len(of_type(rev, tr.EndEvent)) == 1
    strip = [(c.call_id, c.name, c.args) for c in of_type(rev, tr.ToolCallEvent)]
    assert strip == [(c.call_id, c.name, c.args) for c in of_type(wev, tr.ToolCallEvent)]  # each call once


@pytest.mark.parametrize("spec,condition", [("baseline-closed", "full"), ("baseline-closed", "whitebox"),
                                            ("decompiler", "full")])
def test_deterministic_investigators_resume_mid_tool_step(reverse_subject, tmp_path, spec, condition):
    # interrupted after the 2nd tool result was recorded, inside the tools node: the resumed step
    # reuses the recorded results instead of calling (and recording) them again
    resumed = interrupted_then_resumed(reverse_subject, spec, tmp_path, condition, Interrupt(tr.ToolResultEvent, 2))
    assert_same_episode(resumed, uninterrupted(reverse_subject, spec, tmp_path, condition))


@pytest.mark.slow  # the open-world search runs twice: ~17 s, more under load
def test_open_world_baseline_resumes_while_asking(reverse_subject, tmp_path):
    resumed = interrupted_then_resumed(reverse_subject, "baseline", tmp_path, "full", Interrupt(tr.LLMRequest, 3))
    assert_same_episode(resumed, uninterrupted(reverse_subject, "baseline", tmp_path, "full"))


def test_replay_backend_resumes_with_the_next_recorded_response(reverse_subject, tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "transcripts" / "baseline-reverse.jsonl"
    spec = f"replay:{example}"
    resumed = interrupted_then_resumed(reverse_subject, spec, tmp_path, "full", Interrupt(tr.LLMRequest, 2))
    assert_same_episode(resumed, uninterrupted(reverse_subject, spec, tmp_path, "full"))


@pytest.mark.parametrize("stop", [Interrupt(tr.LLMRequest, 1), Interrupt(tr.PredictionEvent, 1)],
                         ids=["asking", "answered"])
def test_static_dump_resumes(reverse_subject, tmp_path, stop):
    # cut short while asking: the one question is asked again; once answered (Ctrl-C while scoring
    # would be the same): the recorded answer is scored, never asked for twice
    resumed = interrupted_then_resumed(reverse_subject, "baseline", tmp_path, "static+io", stop)
    whole = uninterrupted(reverse_subject, "baseline", tmp_path, "static+io")
    assert_same_episode(resumed, whole)
    assert len(of_type(resumed[1], tr.PredictionEvent)) == 1
    assert len(of_type(resumed[1], tr.LLMRequest)) == (2 if stop.cls is tr.LLMRequest else 1)


def test_ctrl_c_while_scoring_leaves_the_run_to_be_scored_once_on_resume(reverse_subject, tmp_path, monkeypatch):
    from tracr_agent.agent.episode import lifecycle

    real, calls = lifecycle.score_episode, []

    def interrupted_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "score_episode", interrupted_once)
    never = Interrupt(tr.Header, 2)  # a listener that never fires: the Ctrl-C comes from the scorer
    result, ev = interrupted_then_resumed(reverse_subject, "baseline-closed", tmp_path, "full", never)
    assert len(calls) == 2 and result.score.functional.correct
    assert len(of_type(ev, tr.PredictionEvent)) == len(of_type(ev, tr.ScoreEvent)) == len(of_type(ev, tr.EndEvent)) == 1
    assert [h.action for h in of_type(ev, tr.HumanEvent)] == ["pause", "resume"]
    assert of_type(ev, tr.EndEvent)[0].tool_calls == result.tool_calls == 3


def test_the_wall_time_limit_counts_on_across_a_resume(reverse_subject, tmp_path):
    """The first turn takes 3 s of a 4 s budget, the run is stopped while asking for turn 2, and turn 2
    takes 1.5 s after the resume: 4.5 s used, so the limit is reached (a restarted clock: 1.5 s)."""
    from langchain_core.messages import AIMessage

    from fakes import ScriptedChatModel
    from tracr_agent.agent.backends.llm import Backend
    from tracr_agent.agent.records.limits import Limits

    class Thinking(ScriptedChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            time.sleep({0: 3.0, 1: 1.5}.get(self._index[0], 0.0))
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def thinking(spec):
        return Backend(spec, Thinking(responses=[
            AIMessage(content="", tool_calls=[{"id": f"c{i}", "name": "model_info", "args": {}}]) for i in (1, 2)
        ] + [AIMessage(content="", tool_calls=[{"id": "s", "name": "submit_prediction", "args": SUBMIT}])], seen=[]))

    result, ev = interrupted_then_resumed(reverse_subject, "thinking", tmp_path, "full", Interrupt(tr.LLMRequest, 2),
                                          limits=Limits(max_seconds=4), make_backend=thinking)
    resumed_at = ev.index(of_type(ev, tr.HumanEvent, action="resume")[0])
    limit = of_type(ev[resumed_at:], tr.LimitEvent)
    assert limit and limit[0].limit == "wall-time (s)", [type(e).__name__ for e in ev]
    assert result.status == "prediction" and result.duration_s >= 4.5
