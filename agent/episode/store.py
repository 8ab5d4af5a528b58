"""The session store: every resumable episode (a plain `run`, an interactive `run`, a lab) is one row here.

Checkpoints go to a SQLite database (`langgraph.checkpoint.sqlite.SqliteSaver`; platformdirs
user data dir "tracr-agent"/sessions.sqlite, env TRACR_AGENT_SESSIONS overrides) under the
session id as thread id. A table `tracr_sessions` in the same database keeps what a resume
needs besides the graph state: the kind (`run`, `interactive` or `lab`), the transcript path (the
resumed session appends to the same file), the subject's fingerprint, the episode's
`EpisodeConfig` (agent/records/config.py: subject spec, condition, LLM, limits, cap, …), and the
hints typed but not yet handed to the agent.
`tracr-agent sessions` lists the open rows (`open_sessions`). A finished row keeps its meta but
loses its checkpoints (`finish`): nothing resumes it, and every plain `run` would otherwise leave
its whole message history behind.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import signal
import sqlite3
import uuid
from pathlib import Path
from typing import Optional

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig, EpisodeSettings
from tracr_agent.tools.sandbox.runner import running_unsafe
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.subjects.spec import SubjectSpec
from tracr_agent.tools.untrusted import jsonio
from tracr_agent.tools.untrusted.text import check_name

ENV_SESSIONS = "TRACR_AGENT_SESSIONS"
TABLE = "tracr_sessions"


def sessions_db() -> Path:
    if os.environ.get(ENV_SESSIONS):
        return Path(os.environ[ENV_SESSIONS]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("tracr-agent")) / "sessions.sqlite"


class StoreError(UserError):
    """The session store cannot be opened or read (not a database, a damaged row, a read-only disk)."""


class SessionStore:
    """The checkpoint database plus the `tracr_sessions` table (one row per session: status, meta JSON).
    A store that is not a database, or that cannot be written, is one StoreError line."""

    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path or sessions_db())
        self.conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # several processes may checkpoint at once (runs side by side): wait for the lock, do not fail
            self.conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT PRIMARY KEY, created TEXT, "
                              "status TEXT, meta TEXT)")
            self.conn.commit()
        except (OSError, sqlite3.Error) as e:
            if self.conn is not None:
                self.conn.close()
            raise self.unusable(e) from None
        self._saver = None

    def unusable(self, e: Exception) -> StoreError:
        """The one line for a store that fails: where it is, why, and what to do."""
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return StoreError(f"the session store {self.path} is not usable ({why}); move it aside (a new one is "
                          f"made), or point {ENV_SESSIONS} at another file")

    @property
    def saver(self):
        if self._saver is None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            self._saver = SqliteSaver(self.conn)
        return self._saver

    def new_id(self) -> str:
        while True:
            sid = uuid.uuid4().hex[:8]
            if self.get(sid) is None:
                return sid

    def create(self, sid: str, meta: dict) -> None:
        self.conn.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?)",
                          (sid, _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "open",
                           json.dumps(meta)))
        self.conn.commit()

    def _meta(self, text) -> dict:
        try:
            meta = jsonio.loads(text)
        except (TypeError, ValueError) as e:
            raise self.unusable(ValueError(f"a damaged session row: {e}")) from None
        if not isinstance(meta, dict):
            raise self.unusable(ValueError("a damaged session row"))
        return meta

    def get(self, sid: str) -> Optional[tuple[str, dict]]:
        try:
            row = self.conn.execute(f"SELECT status, meta FROM {TABLE} WHERE id = ?", (sid,)).fetchone()
        except sqlite3.Error as e:
            raise self.unusable(e) from None
        return (row[0], self._meta(row[1])) if row else None

    def update_meta(self, sid: str, **fields) -> None:
        row = self.get(sid)
        if row is not None:
            self.conn.execute(f"UPDATE {TABLE} SET meta = ? WHERE id = ?", (json.dumps({**row[1], **fields}), sid))
            self.conn.commit()

    def set_pid(self, sid: str, pid: Optional[int]) -> None:
        """Which process is driving the session (None: none), so a second `resume` is refused."""
        self.update_meta(sid, pid=pid)

    def finish(self, sid: str) -> None:
        """Closes the row (a finished session is not listed and cannot be resumed) and drops its checkpoints."""
        self.set_status(sid, "finished")
        self.saver.delete_thread(sid)

    def set_status(self, sid: str, status: str) -> None:
        self.conn.execute(f"UPDATE {TABLE} SET status = ? WHERE id = ?", (status, sid))
        self.conn.commit()

    def rows(self, status: Optional[str] = None) -> list[tuple[str, str, str, dict]]:
        """(id, created, status, meta) of every session (with `status`: only those), oldest first."""
        query = f"SELECT id, created, status, meta FROM {TABLE}" + (" WHERE status = ?" if status else "")
        try:
            rows = self.conn.execute(query + " ORDER BY created", (status,) if status else ()).fetchall()
        except sqlite3.Error as e:
            raise self.unusable(e) from None
        return [(str(r[0]), str(r[1]), str(r[2]), self._meta(r[3])) for r in rows]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def peek(sid: str) -> Optional[tuple[str, dict]]:
    """(status, meta) of a session, or None when there is no such session (nor any store). An id that
    hides characters (a bidi override, a zero-width space) is one UserError line."""
    check_name(sid, "session id")
    db = sessions_db()
    if not db.is_file():
        return None
    store = SessionStore(db)
    try:
        return store.get(sid)
    finally:
        store.close()


def open_store() -> tuple[Optional[SessionStore], str]:
    """(the store, "") or, where it cannot be opened or written (a read-only home, a path under a
    file, a corrupt database), (None, why) — for callers that go on without checkpoints."""
    try:
        store = SessionStore()
        store.saver.setup()
        return store, ""
    except StoreError as e:
        return None, str(e)
    except (OSError, sqlite3.Error) as e:
        return None, f"the session store {sessions_db()} is not usable ({type(e).__name__}: {e})"


class Hangup(KeyboardInterrupt):
    """SIGHUP/SIGTERM, raised like Ctrl-C so the session is left the same way."""

    def __init__(self, signum: int = signal.SIGHUP):
        super().__init__(signum)
        self.signum = int(signum)


_pending_signal: Optional[int] = None
"""The signal that last interrupted the session this process drives, until the session is left."""


def _interrupt(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Hangup(signum)


def _raise_interrupt(signum, frame):
    # Remembered as well as raised: a library may swallow it (LangGraph's executor callbacks catch
    # BaseException), and the session would then go on as if the key had never been pressed.
    global _pending_signal
    _pending_signal = int(signum)
    raise _interrupt(signum)


def raise_if_interrupted() -> None:
    """Raises again an interrupt that arrived while the session was driven but never reached it
    (called before each prompt): a Ctrl-C is never lost, wherever it landed."""
    if _pending_signal is not None:
        raise _interrupt(_pending_signal)


def exit_code(interrupt: BaseException) -> int:
    """The shell's code for the signal that interrupted: 130 Ctrl-C (SIGINT), 129 SIGHUP, 143 SIGTERM."""
    return 128 + (interrupt.signum if isinstance(interrupt, Hangup) else int(signal.SIGINT))


def why_interrupted(interrupt: BaseException) -> str:
    return {int(signal.SIGHUP): "terminal lost", int(signal.SIGTERM): "SIGTERM"}.get(
        getattr(interrupt, "signum", None), "Ctrl-C")


@contextlib.contextmanager
def driving(store: SessionStore, sid: str):
    """Marks this process as the one driving the session (a second `resume` is refused meanwhile)
    and turns SIGHUP/SIGTERM into `Hangup`, so a lost terminal leaves the session open like Ctrl-C;
    each of the three is also remembered for `raise_if_interrupted`."""
    global _pending_signal
    store.set_pid(sid, os.getpid())
    old_handlers = {}
    _pending_signal = None
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        try:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # ignored on purpose (nohup, a shell's background job): it stays ignored
            old_handlers[sig] = signal.signal(sig, _raise_interrupt)
        except (ValueError, OSError, AttributeError):  # not the main thread / no such signal
            pass
    try:
        yield
    finally:
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
        _pending_signal = None
        try:
            store.set_pid(sid, None)
        except sqlite3.Error:
            pass


def session_meta(kind: str, config: EpisodeConfig, subject, transcript: Path, **extra) -> dict:
    """A session's row: its kind, transcript and subject fingerprint, and its EpisodeConfig (what a
    resume needs besides the checkpoints), plus what the kind keeps of its own (`extra`)."""
    return {"kind": kind, "transcript": str(Path(transcript).resolve()), "fingerprint": subject.fingerprint,
            "config": config.model_dump(mode="json"), "unsafe_sandbox": bool(running_unsafe()), **extra}


def row_config(meta: dict) -> EpisodeConfig:
    """The EpisodeConfig of a session row (rows written before the config was one object keep its
    fields at the top level, the subject as {task, program, model_dir})."""
    if "config" in meta:
        return EpisodeConfig.model_validate(meta["config"])
    old = {k: meta[k] for k in EpisodeSettings.model_fields if meta.get(k) is not None}
    if meta.get("kind") == "lab":
        old["limits"] = None
    return EpisodeConfig(subject=SubjectSpec.from_options(**meta["subject"]), **old)


def abs_llm_spec(spec: str) -> str:
    """The spec with a replay transcript's path made absolute (a resume may run from anywhere)."""
    kind, sep, rest = spec.partition(":")
    return f"replay:{Path(rest).resolve()}" if kind == "replay" and rest else spec


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def where_stopped(transcript: Path, kind: str = "interactive") -> str:
    """Where an open session stopped, read from the tail of its transcript (a person reviews an
    interactive session's pending call; a plain run was running it)."""
    if not Path(transcript).is_file():
        return "transcript missing"
    events, _ = tr.read_transcript(transcript, strict=False)
    answered = {e.call_id for e in events if isinstance(e, tr.ToolResultEvent)}
    calls = sum(isinstance(e, tr.ToolCallEvent) for e in events)
    if any(isinstance(e, tr.PredictionEvent) for e in events):
        return f"asking questions after the prediction ({calls} tool calls)"
    turn = next((e for e in reversed(events) if isinstance(e, tr.LLMResponse)), None)
    asked = next((e for e in reversed(events) if isinstance(e, tr.LLMRequest)), None)
    if asked is not None and (turn is None or asked.step > turn.step):
        return f"turn {asked.step}: waiting for the LLM ({calls} tool calls so far)"
    if turn is None:
        return f"{calls} tool calls, no prediction yet" if calls else "before the first turn"
    pending = [c for c in turn.tool_calls if c.id not in answered]
    if pending and kind == "run":
        return f"turn {turn.step}: running {pending[0].name} ({len(answered)} tool calls done)"
    if pending:
        return f"turn {turn.step}: reviewing {pending[0].name} ({calls} tool calls so far)"
    return f"turn {turn.step} ({calls} tool calls)"


def _age(created: str) -> float:
    try:
        then = _dt.datetime.fromisoformat(created)
    except ValueError:
        return 0.0
    return max(0.0, (_dt.datetime.now(_dt.timezone.utc) - then).total_seconds())


def open_sessions(db: Optional[Path] = None) -> list[dict]:
    """Every open session: id, kind, subject, condition, llm, age, where it stopped, transcript, and
    whether a live process is driving it right now."""
    db = Path(db or sessions_db())
    if not db.is_file():
        return []
    store = SessionStore(db)
    try:
        rows = store.rows(status="open")
    finally:
        store.close()
    out = []
    for sid, created, _, meta in rows:
        try:
            config = row_config(meta)
        except (ValueError, UserError):  # a row whose subject is gone still lists, and resume says why
            config = None
        pid = meta.get("pid") if isinstance(meta.get("pid"), int) else None
        out.append({"id": sid, "kind": meta.get("kind", "interactive"), "subject": str(config.subject) if config else "?",
                    "condition": str(config.condition) if config else "", "residual": str(config.residual) if config else "",
                    "llm": config.llm if config else "", "created": created, "age_s": round(_age(created), 1),
                    "where": where_stopped(Path(str(meta.get("transcript", ""))), meta.get("kind", "interactive")), "transcript": meta.get("transcript", ""),
                    "running": bool(pid and pid != os.getpid() and alive(pid))})
    return out


def fmt_age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
