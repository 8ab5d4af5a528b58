"""`tracr-agent lab TASK`: a person investigates a subject with the agent's own tools.

A REPL over `call_tool` — the same tools, the same condition policy and the
same error texts the agent gets. `TOOL {json}` or `TOOL key=value …` calls a
tool; `help [TOOL]` describes them; `submit` asks for a prediction and scores
it exactly like an agent's; `quit` (or Ctrl-D) ends without one; `pause` (or a
lost terminal) leaves the lab open to `tracr-agent resume ID`, like an interactive
session (agent/interactive/store.py; `tracr-agent sessions` lists it). Readline
completes tool names, hook names, vocab tokens and argument names, and keeps
a history file in the user data dir.

The session is a transcript like any other (Header.actor = "human", llm
"human"): each call is HumanEvent(action="tool") + ToolCallEvent +
ToolResultEvent, a submission adds PredictionEvent, and the end is ScoreEvent
+ EndEvent, so replay, inspect, export and report read it unchanged.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.markup import escape

from tracr_agent.agent.episode import transcript as tr
from tracr_agent.agent.episode.lifecycle import Episode
from tracr_agent.agent.render.grids import result_renderable
from tracr_agent.tools.output_cap import DEFAULT_CAP_TOKENS

PROMPT = "lab> "
COMMANDS = ("help", "submit", "pause", "quit")
_KEY = re.compile(r"(?:^|\s)([A-Za-z_]\w*)=")
DELIMS = " \t\n\"'[]{},:="


def history_file() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("tracr-agent")) / "lab_history"


def parse_args(rest: str):
    """`{json}` as is; `key=value …` (values parsed as JSON when they are, else taken as strings);
    anything else is handed to call_tool as text so the error is the one the agent would get."""
    rest = rest.strip()
    if not rest:
        return {}
    if rest.startswith("{"):
        try:
            args = json.loads(rest)
        except json.JSONDecodeError:
            return rest
        return args if isinstance(args, dict) else rest
    keys = list(_KEY.finditer(rest))
    if not keys or rest[:keys[0].start()].strip():
        return rest
    args = {}
    for k, nxt in zip(keys, keys[1:] + [None]):
        raw = rest[k.end():nxt.start() if nxt else len(rest)].strip()
        try:
            args[k.group(1)] = json.loads(raw)
        except json.JSONDecodeError:
            args[k.group(1)] = raw
    return args


class Lab:
    def __init__(self, subject, *, condition: str, transcript_path: Path, cap_tokens: int = DEFAULT_CAP_TOKENS,
                 console: Optional[Console] = None, residual: str = "labelled", plain: bool = False,
                 store=None, sid: str = ""):
        from tracr_agent.tools.subjects.subject import standard_hooks
        from tracr_agent.tools.suite.base import ToolContext, tool_names

        self.subject = subject
        self.condition = condition
        self.plain = plain  # True: results as the text the tools return, no shaded grids
        self.ctx = ToolContext(condition=condition, cap_tokens=cap_tokens, residual=residual)
        self.console = console or Console()
        self.tools = tool_names(condition)
        self.path = Path(transcript_path)
        self.store, self.sid = store, sid
        """The session store row that makes this lab resumable (`pause`, a lost terminal); None: not resumable."""
        self.episode = Episode(subject, condition=condition, residual=residual, llm="human", actor="human",
                               transcript_path=self.path, cap_tokens=cap_tokens,
                               session_id=sid or "lab-" + os.urandom(4).hex())
        self.step = 0
        self.n_calls = 0
        self.words = sorted({*standard_hooks(subject.n_layers), *(str(t) for t in subject.vocab)}
                            | {f for n in self.tools for f in self._spec(n).args.model_fields})
        self.cap_tokens = cap_tokens

    @staticmethod
    def _spec(name):
        from tracr_agent.tools.suite.base import REGISTRY

        return REGISTRY[name]

    # -- readline -------------------------------------------------------------------------------

    def complete(self, text: str, state: int) -> Optional[str]:
        import readline

        line = readline.get_line_buffer()
        first = not line[:readline.get_begidx()].strip()
        pool = (list(self.tools) + list(COMMANDS)) if first else (
            self.tools if line.split()[:1] == ["help"] else self.words)
        matches = [w for w in pool if w.startswith(text)]
        return matches[state] if state < len(matches) else None

    def _setup_readline(self):
        try:
            import readline
        except ImportError:
            return None
        readline.set_completer(self.complete)
        readline.set_completer_delims(DELIMS)
        readline.parse_and_bind("tab: complete")
        hist = history_file()
        try:
            hist.parent.mkdir(parents=True, exist_ok=True)
            if hist.is_file():
                readline.read_history_file(str(hist))
        except OSError:
            pass
        readline.set_history_length(1000)
        return readline, hist

    # -- recording ------------------------------------------------------------------------------

    @property
    def recorder(self):
        return self.episode.recorder

    def call(self, name: str, args, line: str):
        from tracr_agent.tools.suite.base import call_tool

        self.step += 1
        cid = f"lab_{self.step}"
        self.recorder.emit(tr.HumanEvent(step=self.step, action="tool", text=line, call_id=cid))
        self.recorder.emit(tr.ToolCallEvent(step=self.step, call_id=cid, name=name, args=args))
        res = call_tool(self.subject, name, args, self.ctx)
        self.n_calls += 1
        self.recorder.emit(tr.ToolResultEvent(step=self.step, call_id=cid, name=name, text=res.text,
                                              is_error=res.is_error, latency_ms=round(res.latency_ms, 2),
                                              origin="tool"))
        grid = None if self.plain else result_renderable(res.text, res.is_error)
        if grid is not None:  # attention patterns and residual decodes as shaded grids
            self.console.print(grid)
        else:
            self.console.print(escape(res.text), style="red" if res.is_error else None, highlight=False,
                               soft_wrap=True)
        return res

    # -- commands -------------------------------------------------------------------------------

    def help(self, name: str = "") -> None:
        from tracr_agent.tools.suite.base import REGISTRY, signature

        c = self.console
        if not name:
            c.print(f"tools in this session ({self.condition}):", highlight=False)
            room = max(20, c.width - 22)
            for n in self.tools:
                first = REGISTRY[n].description.split(". ")[0].rstrip(".")
                first = first if len(first) <= room else first[:room - 1] + "…"
                c.print(f"  {n:<18} {escape(first)}", highlight=False)
            c.print('TOOL {"key": value, …} or TOOL key=value … calls a tool; help TOOL; submit; quit',
                    highlight=False, markup=False)
            return
        if name in self.tools:
            spec = REGISTRY[name]
            c.print(signature(spec), style="bold", highlight=False, markup=False)
            c.print(spec.description, highlight=False, markup=False, soft_wrap=True)
        elif name in REGISTRY:
            c.print(f"{name} is not available in this session ({self.condition})", style="red", highlight=False)
        else:
            c.print(f"no tool {name!r}; `help` lists them", style="red", highlight=False, markup=False)

    def submit(self) -> Optional[dict]:
        """Asks for the four fields; returns the accepted prediction, or None (nothing recorded) when
        the person backs out with Ctrl-C."""
        try:
            import readline

            n_hist = readline.get_current_history_length()
        except ImportError:
            readline, n_hist = None, 0
        try:
            return self._submit()
        finally:
            if readline is not None:  # the answers are not commands: keep them out of the history
                while readline.get_current_history_length() > n_hist:
                    readline.remove_history_item(readline.get_current_history_length() - 1)

    def _submit(self) -> Optional[dict]:
        try:
            label = input("label: ").strip()
            description = input("description: ").strip()
            print("implementation (Python defining f(tokens) -> list; end with a line holding only '.'):")
            lines = []
            while True:
                line = input("... ")
                if line.strip() == ".":
                    break
                lines.append(line)
            while True:
                raw = input("confidence (0..1): ").strip()
                try:
                    confidence = float(raw)
                    break
                except ValueError:
                    self.console.print(f"not a number: {raw!r}", style="red", highlight=False, markup=False)
        except (KeyboardInterrupt, EOFError):
            self.console.print("\nsubmission cancelled", style="yellow")
            return None
        args = {"label": label, "description": description, "implementation": "\n".join(lines) + "\n",
                "confidence": confidence}
        res = self.call("submit_prediction", args, "submit")
        if res.is_error:
            self.console.print("the submission was refused; fix it and `submit` again", style="yellow")
            return None
        return args

    def finish(self, prediction: Optional[dict]) -> None:
        from tracr_agent.agent.render.live import score_line

        if prediction is not None:
            self.recorder.emit(tr.PredictionEvent(step=self.step, **{
                k: prediction[k] for k in ("label", "description", "implementation", "confidence")}))
        result = self.episode.finish({"prediction": prediction, "tool_calls": self.n_calls})
        if result.score_error:
            self.console.print(result.score_error, style="red", highlight=False, markup=False)
        if result.score is not None:
            self.console.print(score_line(result.score), highlight=False)
        self.console.print(f"transcript: {self.path}", highlight=False, soft_wrap=True)

    def resume_from(self, events: list) -> None:
        """Continues a paused lab's transcript: the step and call counts go on from its events."""
        self.episode.reopen(max((e.t for e in events), default=0.0))
        self.step = max((e.step for e in events if hasattr(e, "step")), default=0)
        self.n_calls = sum(isinstance(e, tr.ToolResultEvent) for e in events)
        self.recorder.emit(tr.HumanEvent(step=self.step, action="resume", text="lab resumed"))

    def pause(self, why: str) -> None:
        """Leaves the lab open to `tracr-agent resume`: the transcript gets no end."""
        self.episode.pause(self.step, f"lab {why}")
        try:
            self.console.print(f"lab {self.sid} saved — continue it with: tracr-agent resume {self.sid}",
                               style="yellow", highlight=False, markup=False)
        except OSError:  # the terminal is gone
            pass

    def loop(self, resumed: Optional[list] = None) -> int:
        """The REPL; `resumed`: the events of a paused lab's transcript, to continue it."""
        import contextlib

        from tracr_agent.agent.interactive.store import Hangup, driving, exit_code, why_interrupted

        if not self.store:
            return self._loop(resumed)
        try:
            with driving(self.store, self.sid):
                code = self._loop(resumed)
        except Hangup as e:
            self.pause(f"interrupted ({why_interrupted(e)})")
            return exit_code(e)
        if code is None:
            self.pause("paused")
            return 0
        with contextlib.suppress(Exception):
            self.store.finish(self.sid)
        return code

    def _loop(self, resumed: Optional[list]) -> Optional[int]:
        """The exit code once the lab is finished, or None when the person paused it."""
        from tracr_agent.agent.interactive.store import Hangup
        from tracr_agent.tools.suite.info import model_info_text  # noqa: F401  (warm the tool modules)

        if resumed is None:
            self.episode.open()
        else:
            self.resume_from(resumed)
        rl = self._setup_readline()
        c = self.console
        c.rule(f"[bold]tracr-agent lab[/] · condition {self.condition} · transcript {escape(str(self.path))}")
        c.print("`help` lists the tools, `help TOOL` explains one; Tab completes; `submit` commits; `pause` leaves it to "
                "`tracr-agent resume`; `quit` ends.",
                highlight=False, markup=False)
        try:
            while True:
                try:
                    line = input(PROMPT)
                except Hangup:
                    raise
                except KeyboardInterrupt:
                    c.print("^C (quit or Ctrl-D ends the session)", style="dim", highlight=False, markup=False)
                    continue
                except EOFError:
                    c.print()
                    line = "quit"
                if rl:
                    try:
                        rl[0].append_history_file(1, str(rl[1])) if rl[1].is_file() else rl[0].write_history_file(str(rl[1]))
                    except OSError:
                        pass
                line = line.strip()
                if not line:
                    continue
                word, _, rest = line.partition(" ")
                if word in ("quit", "exit"):
                    self.finish(None)
                    return 0
                if word == "help":
                    self.help(rest.strip())
                    continue
                if word == "pause" and not rest.strip():
                    if self.store:
                        return None
                    c.print("this lab cannot be paused (no session store)", style="red", highlight=False)
                    continue
                if word == "submit" and not rest.strip():
                    prediction = self.submit()
                    if prediction is not None:
                        self.finish(prediction)
                        return 0
                    continue
                res = self.call(word, parse_args(rest), line)
                if word == "submit_prediction" and not res.is_error:
                    args = parse_args(rest)
                    args = json.loads(args) if isinstance(args, str) else args
                    self.finish(args)
                    return 0
        except Hangup:
            raise  # loop() records the pause, then closes the file
        except BaseException:
            self.episode.suspend()
            raise


def run_lab(subject, *, condition: str, transcript_path: Path, cap_tokens: int = DEFAULT_CAP_TOKENS,
            console: Optional[Console] = None, residual: str = "labelled", plain: bool = False,
            subject_spec: Optional[dict] = None) -> int:
    """A new lab session, registered in the session store (kind "lab") so `pause` or a lost terminal
    leaves it to `tracr-agent resume`, like an interactive run; `subject_spec` says how to load the
    subject again (store.abs_subject_spec)."""
    from tracr_agent.agent.interactive.store import SessionStore

    store = SessionStore()
    sid = store.new_id()
    store.create(sid, {"kind": "lab", "transcript": str(Path(transcript_path).resolve()),
                       "subject": subject_spec or {"task": subject.truth.task_id},
                       "fingerprint": subject.fingerprint, "condition": condition, "residual": residual,
                       "llm": "human", "cap_tokens": cap_tokens})
    try:
        return Lab(subject, condition=condition, transcript_path=transcript_path, cap_tokens=cap_tokens,
                   console=console, residual=residual, plain=plain, store=store, sid=sid).loop()
    finally:
        store.close()
