"""The live view: renders transcript events with rich as they happen (and, for replay, as they were).

One renderer serves `run` (events arrive from the recorder) and `replay`
(events come from a file), so a replayed episode looks the way it did live. A call's arguments are one
compact line; its result is drawn as grids where it holds matrices (text or JSON alike, at most
PREVIEW_PICTURES of them), else shown as text cut after PREVIEW_LINES lines (JSON laid out one value per
line first); `--verbose` shows everything. Colours are the terminal's own (no white or yellow text), so
the view reads on light backgrounds as on dark ones. Every event is untrusted text (an LLM's reply, a
tool result, a label, a transcript someone else wrote): it is drawn as `shown_data` gives it back
(control, bidi and zero-width characters shown, not obeyed), and what goes into markup through
`markup` (tools/untrusted/text.py).
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.panel import Panel
from rich.style import Style
from rich.syntax import ANSISyntaxTheme, Syntax
from rich.text import Text

from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.render.grids import result_renderable
from tracr_agent.agent.render.readings import compact_args, cut_lines, readable_text
from tracr_agent.agent.scoring.verdicts import Score
from tracr_agent.tools.untrusted.text import markup, shown_data
from tracr_agent.agent.render.terminal import SafeConsole

PREVIEW_LINES = 8
PREVIEW_PICTURES = 1
"""Grids drawn per result without --verbose (a json read of 5 inputs × 3 hooks holds 15)."""


def _code_theme() -> ANSISyntaxTheme:
    """Python in the terminal's own colours, none of them white, black or yellow: readable on a light
    background as on a dark one (rich's ansi themes write plain text white or black)."""
    from pygments.token import Comment, Keyword, Name, Number, Operator, String, Token

    return ANSISyntaxTheme({Token: Style(), Comment: Style(dim=True, italic=True), Keyword: Style(color="magenta", bold=True),
                            Name.Function: Style(color="blue"), Name.Builtin: Style(color="cyan"),
                            String: Style(color="green"), Number: Style(color="cyan"), Operator: Style(bold=True)})


CODE_THEME = _code_theme()


class LiveView:
    def __init__(self, console: Console | None = None, verbose: bool = False, only: str | None = None,
                 plain: bool = False):
        self.console = console or SafeConsole()
        self.verbose = verbose
        self.plain = plain  # True: tool results as the text the agent read, no grids
        self.only = only  # None, "tools", "llm" or "human"
        self.tool_calls = 0
        self.tokens = 0
        self.cost = 0.0
        self.cost_unknown = False
        self.t = 0.0
        self.args: dict = {}
        """Call id -> the call's arguments: they say how to read its result (e.g. format json)."""

    def continue_from(self, events: list) -> "LiveView":
        """A resumed episode: the counters go on from what its transcript holds so far."""
        answers = [e for e in events if isinstance(e, tr.LLMResponse)]
        self.tool_calls = sum(isinstance(e, tr.ToolResultEvent) for e in events)  # a call cut short is made again
        self.tokens = sum(e.usage.input_tokens + e.usage.output_tokens for e in answers)
        self.cost = sum(e.cost or 0.0 for e in answers)
        self.cost_unknown = any(e.cost is None for e in answers)
        self.t = max((e.t for e in events), default=0.0)
        return self

    def _show(self, kind: str) -> bool:
        return self.only is None or self.only == kind

    def counters(self) -> str:
        return f"[dim]tools {self.tool_calls} · tokens {self.tokens} · {self.cost_text()} · {self.t:.1f}s[/]"

    def cost_text(self) -> str:
        return tr.cost_text(self.cost, self.cost_unknown)

    def __call__(self, ev) -> None:
        c = self.console
        ev = shown_data(ev)
        self.t = max(self.t, ev.t)
        if isinstance(ev, tr.Header):
            who = "human" if ev.actor == "human" else ev.llm + (" (closed-world)" if ev.closed_world else "")
            subj = ev.subject.name
            c.rule(f"[bold]tracr-agent[/] · subject {markup(subj)} · condition {markup(ev.condition)} · {markup(who)}")
        elif isinstance(ev, tr.LLMRequest):
            if self.verbose and self._show("llm"):
                for m in ev.messages:
                    if m.get("role") in ("system", "user"):
                        c.print(Panel(Text(str(m.get("content", ""))), title=Text(f"{m.get('role')} → LLM"), title_align="left",
                                      border_style="blue", expand=False))
        elif isinstance(ev, tr.LLMResponse):
            self.tokens += ev.usage.input_tokens + ev.usage.output_tokens
            self.cost += ev.cost or 0.0
            self.cost_unknown = self.cost_unknown or ev.cost is None
            if self._show("llm"):
                head = f"[bold cyan]turn {ev.step}[/] {self.counters()}"
                c.print(head, highlight=False)
                if ev.text.strip():
                    c.print(Text(ev.text.strip(), style="italic"))
        elif isinstance(ev, tr.ToolCallEvent):
            self.tool_calls += 1
            self.args[ev.call_id] = ev.args
            if self._show("tools"):
                if self.verbose:
                    args = ev.args if isinstance(ev.args, str) else json.dumps(ev.args, ensure_ascii=False)
                else:
                    args = compact_args(ev.name, ev.args, width=60)
                c.print(Text.assemble(("  → ", "bold magenta"), (ev.name, "bold magenta"), (" " + args) if args else ""))
        elif isinstance(ev, tr.ToolResultEvent):
            args = self.args.get(ev.call_id)
            grid = None if self.plain else result_renderable(ev.text, ev.is_error, ev.name, args,
                                                               limit=None if self.verbose else PREVIEW_PICTURES)
            if self._show("tools") and grid is not None:  # attention patterns, residual reads: shaded grids
                c.print(Panel(grid, title=Text(f"{ev.name} · {ev.latency_ms:.0f} ms"), title_align="left",
                              border_style="dim", expand=False))
            elif self._show("tools"):
                text = ev.text if self.plain else readable_text(ev.text)
                body, more = (text, 0) if self.verbose else cut_lines(text, PREVIEW_LINES)
                if more:
                    body += f"\n… {more} more line{'s' if more > 1 else ''} (--verbose shows all)"
                c.print(Panel(Text(body, style="red" if ev.is_error else ""), title=Text(f"{ev.name} · {ev.latency_ms:.0f} ms"),
                              title_align="left", border_style="red" if ev.is_error else "dim", expand=False))
        elif isinstance(ev, tr.LimitEvent):
            c.print(f"[bold magenta]limit reached:[/] {markup(ev.limit)} ({ev.value:g}) — the agent must commit now",
                    highlight=False)
        elif isinstance(ev, tr.HumanEvent):
            if self._show("human"):
                c.print(f"[bold green]human {markup(ev.action)}[/]" + (f": {markup(ev.text)}" if ev.text else "")
                        + (f" {markup(json.dumps(ev.args, ensure_ascii=False))}" if ev.args is not None else ""),
                        highlight=False)
        elif isinstance(ev, tr.PredictionEvent):
            c.print(Panel.fit(
                Text.assemble(("label: ", "bold"), ev.label, "\n", ("confidence: ", "bold"), f"{ev.confidence:g}",
                              "\n", ("description: ", "bold"), ev.description),
                title="prediction" + (" (forced)" if ev.forced else ""), border_style="green"))
            c.print(Syntax(ev.implementation.rstrip(), "python", theme=CODE_THEME, line_numbers=False,
                           background_color="default"))
        elif isinstance(ev, tr.ScoreEvent):
            c.print(score_line(ev.score), highlight=False)
        elif isinstance(ev, tr.ErrorEvent):
            c.print(f"[bold red]error[/] ({markup(ev.where)}): {markup(ev.message)}", highlight=False)
        elif isinstance(ev, tr.EndEvent):
            c.rule(f"{markup(ev.status)} · {ev.tool_calls} tool calls · {ev.llm_turns} turns · {ev.tokens} tokens · "
                   f"{tr.cost_text(ev.cost, ev.cost_unknown)} · {ev.duration_s:.1f}s")


def score_parts(score: Score, markup: bool = True) -> list[str]:
    """The score in words, one part per verdict: the one formatter of the live view, `run --quiet`, the
    lab and `export`. With markup, verdicts are coloured (rich markup)."""
    def verdict(ok, yes: str = "correct", no: str = "wrong") -> str:
        word = yes if ok else no
        return f"[{'green' if ok else 'red'}]{word}[/]" if markup else word

    parts = []
    lab = score.label
    if lab is not None and lab.correct is None:  # a generated program: scored at the family level only
        parts.append("label n/a" + (f" (family {_text(lab.family, markup)} {verdict(lab.family_correct)})"
                                    if lab.family_correct is not None else ""))
    elif lab is not None:
        part = f"label {verdict(lab.correct)}"
        if lab.correct and lab.matched_by:  # which rule (or judge) accepted it; a model name is text, not markup
            part += f" ({_text(lab.matched_by, markup)})"
        if not lab.correct and lab.family_correct:  # credit as the prior study counted it
            part += f" (family {_text(lab.family, markup)} {verdict(True)})"
        parts.append(part)
    elif score.functional is not None:  # a subject with no label to match (generated or imported)
        parts.append("label n/a")
    fn = score.functional
    if fn is not None:
        detail = f"{100 * (fn.agreement or 0):.1f}% of {fn.n_inputs} inputs"
        if fn.error:
            detail += f"; {_text(fn.error, markup)}"
        parts.append(f"implementation {verdict(fn.correct)} ({detail})")
    if score.judge is not None:
        parts.append(f"judge {verdict(score.judge.correct, 'yes', 'no')} ({_text(score.judge.model, markup)})")
    return parts or ["not scored"]


def _text(value, as_markup: bool) -> str:
    # a score's words come from a scorer, a judge's server or a recorded file: text, never markup
    from tracr_agent.tools.untrusted.text import shown

    return markup(value, one_line=True) if as_markup else shown(value, one_line=True)


def score_line(score: Score) -> str:
    return "[bold]score:[/] " + " · ".join(score_parts(score))


def print_run_result(result, console: Console, err_console: Console, quiet: bool) -> int:
    """What `run` (and `resume` of a run) prints once the episode ended; returns the exit code."""
    if quiet:
        pred = result.prediction
        console.print(f"prediction: {pred['label'] if pred else '(none)'}  ({result.status})", markup=False,
                      highlight=False, soft_wrap=True)
        if result.score:
            console.print(score_line(result.score), soft_wrap=True)
    if result.error:
        err_console.print(f"[red]episode error:[/] {markup(result.error, one_line=True)}", highlight=False,
                          soft_wrap=True)
    if getattr(result, "limit", None):
        console.print(f"limit reached: {result.limit}" + ("; the prediction was made in the forced last turn"
                                                          if result.forced else ""), markup=False, highlight=False,
                      soft_wrap=True)
    # one unbroken line, whatever the terminal's width: scripts and people copy it whole
    console.print(f"transcript: {result.transcript}", markup=False, highlight=False, soft_wrap=True)
    return 1 if result.status in ("error", "interrupted") else 0
