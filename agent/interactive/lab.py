"""`tracr-agent lab TASK`: a person investigates a subject with the agent's own tools.

`LabDriver` is the driver (agent/episode/drive.py) of such an episode: a REPL over `call_tool` — the same tools, the same condition policy and the
same error texts the agent gets. `TOOL {json}` or `TOOL key=value …` calls a
tool; `help [TOOL]` describes them; `submit` asks for a prediction and scores
it exactly like an agent's; `quit` (or Ctrl-D) ends without one; `pause` (or a
lost terminal) leaves the lab open to `tracr-agent resume ID`, like an interactive
session (agent/episode/store.py; `tracr-agent sessions` lists it). Readline
completes tool names, hook names, vocab tokens and argument names, and keeps
a history file in the user data dir.

The session is a transcript like any other (Header.actor = "human", llm
"human"): each call is HumanEvent(action="tool") + ToolCallEvent +
ToolResultEvent, a submission adds PredictionEvent, and the end is ScoreEvent
+ EndEvent, so replay, inspect, export and report read it unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from platformdirs import user_data_dir
from rich.console import Console

from tracr_agent.agent.episode.drive import Driver, PauseRequested, Suspended, open_row
from tracr_agent.agent.episode.lifecycle import Episode
from tracr_agent.agent.episode.store import Hangup, SessionStore
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig
from tracr_agent.agent.render.grids import result_renderable
from tracr_agent.agent.render.live import score_line
from tracr_agent.tools.protocol.hooks import standard_hooks
from tracr_agent.tools.suite.base import REGISTRY, ToolContext, call_tool, signature, tool_names
from tracr_agent.tools.untrusted.text import markup, shown
from tracr_agent.agent.render.terminal import SafeConsole, text_input

PROMPT = "lab> "
COMMANDS = ("help", "submit", "pause", "quit")
_KEY = re.compile(r"(?:^|\s)([A-Za-z_]\w*)=")
DELIMS = " \t\n\"'[]{},:="


def history_file() -> Path:
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


class LabDriver(Driver):
    """A person investigates with the agent's tools at a REPL (see the module docstring)."""

    kind = "lab"
    noun = "lab"
    warm_up = False

    def __init__(self, subject, config: EpisodeConfig, *, console: Optional[Console] = None, plain: bool = False):
        self.subject = subject
        self.config = config
        self.plain = plain  # True: results as the text the tools return, no shaded grids
        self.ctx = ToolContext(condition=config.condition, cap_tokens=config.cap_tokens, residual=config.residual,
                               seed=config.seed)
        self.console = console or SafeConsole()
        self.tools = tool_names(config.condition)
        self.episode: Optional[Episode] = None
        self.step = 0
        self.n_calls = 0
        self.words = sorted({*standard_hooks(subject.n_layers), *(str(t) for t in subject.vocab)}
                            | {f for n in self.tools for f in REGISTRY[n].args.model_fields})

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
            self.console.print(shown(res.text), style="red" if res.is_error else None, highlight=False, markup=False,
                               soft_wrap=True)
        return res

    # -- commands -------------------------------------------------------------------------------

    def help(self, name: str = "") -> None:
        c = self.console
        if not name:
            c.print(f"tools in this session ({self.config.condition}):", highlight=False)
            room = max(20, c.width - 22)
            for n in self.tools:
                first = REGISTRY[n].description.split(". ")[0].rstrip(".")
                first = first if len(first) <= room else first[:room - 1] + "…"
                c.print(f"  {n:<18} {first}", highlight=False, markup=False)
            c.print('TOOL {"key": value, …} or TOOL key=value … calls a tool; help TOOL; submit; quit',
                    highlight=False, markup=False)
            return
        if name in self.tools:
            spec = REGISTRY[name]
            c.print(signature(spec), style="bold", highlight=False, markup=False)
            c.print(spec.description, highlight=False, markup=False, soft_wrap=True)
        elif name in REGISTRY:
            c.print(f"{name} is not available in this session ({self.config.condition})", style="red", highlight=False,
                    markup=False)
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
            label = text_input("label: ", self.console).strip()
            description = text_input("description: ", self.console).strip()
            print("implementation (Python defining f(tokens) -> list; end with a line holding only '.'):")
            lines = []
            while True:
                line = text_input("... ", self.console)
                if line.strip() == ".":
                    break
                lines.append(line)
            while True:
                raw = text_input("confidence (0..1): ", self.console).strip()
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

    def report(self, result) -> int:
        """What the lab prints once it ended (the score, the transcript); returns the exit code."""
        if result.score_error:
            self.console.print(result.score_error, style="red", highlight=False, markup=False)
        if result.score is not None:
            self.console.print(score_line(result.score), highlight=False)
        self.console.print(f"transcript: {self.episode.path}", highlight=False, markup=False, soft_wrap=True)
        return 0

    def report_suspended(self, stop: Suspended) -> int:
        try:
            self.console.print(f"lab {stop.sid} saved — continue it with: tracr-agent resume {stop.sid}",
                               style="yellow", highlight=False, markup=False)
        except OSError:  # the terminal is gone
            pass
        return stop.code

    def outcome(self, prediction: Optional[dict]) -> dict:
        """The lab's outcome; a submission is recorded as the prediction."""
        if prediction is not None:
            self.recorder.emit(tr.PredictionEvent(step=self.step, **{
                k: prediction[k] for k in ("label", "description", "implementation", "confidence")}))
        return {"prediction": prediction, "tool_calls": self.n_calls}

    def investigate(self, episode: Episode, resumed: Optional[list]) -> dict:
        """The REPL until `quit` or a submission (the outcome); `pause` raises PauseRequested."""
        self.episode = episode
        if resumed is not None:  # the step and call counts go on from the transcript's events
            self.step = max((e.step for e in resumed if hasattr(e, "step")), default=0)
            self.n_calls = sum(isinstance(e, tr.ToolResultEvent) for e in resumed)
        rl = self._setup_readline()
        c = self.console
        c.rule(f"[bold]tracr-agent lab[/] · condition {markup(self.config.condition)} · transcript {markup(episode.path)}")
        c.print("`help` lists the tools, `help TOOL` explains one; Tab completes; `submit` commits; `pause` leaves it to "
                "`tracr-agent resume`; `quit` ends.",
                highlight=False, markup=False)
        while True:
            try:
                line = text_input(PROMPT, self.console)
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
                return self.outcome(None)
            if word == "help":
                self.help(rest.strip())
                continue
            if word == "pause" and not rest.strip():
                if self.store:
                    raise PauseRequested
                c.print("this lab cannot be paused (no session store)", style="red", highlight=False)
                continue
            if word == "submit" and not rest.strip():
                prediction = self.submit()
                if prediction is not None:
                    return self.outcome(prediction)
                continue
            res = self.call(word, parse_args(rest), line)
            if word == "submit_prediction" and not res.is_error:
                args = parse_args(rest)
                args = json.loads(args) if isinstance(args, str) else args
                return self.outcome(args)


def start_lab(subject, config: EpisodeConfig, *, transcript_path: Path, console: Optional[Console] = None,
              plain: bool = False) -> int:
    """A new lab session, registered in the session store (kind "lab") so `pause` or a lost terminal
    leaves it to `tracr-agent resume`, like an interactive run. Returns the exit code."""
    store = SessionStore()
    driver = LabDriver(subject, config, console=console, plain=plain)
    episode = Episode(subject, config, transcript_path=transcript_path, session_id=store.new_id(), actor="human")
    open_row(store, driver, episode)
    try:
        return driver.run(episode, store)
    finally:
        store.close()
