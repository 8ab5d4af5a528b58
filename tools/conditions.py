"""Experimental conditions, each declared once: which tools it allows, whether decoded outputs
are shown, the note the agent's prompt carries, and (for the no-tool conditions) what the
static dump holds. `Condition` and `Residual` are the enums of their names that typed settings
(agent/records/config.py `EpisodeConfig`) hold; `ConditionRules` and `ResidualRules` are what each
name declares.

Nothing else in tracr-agent branches on a condition's name: the tool registry
(tools/suite/base.py), the prompt (agent/loop/prompts.py), the episode lifecycle, the static
investigator, the interactive session and the lab all read the `ConditionRules`.

The residual mode (`ToolContext.residual`: labelled or raw residual dimensions) is a second axis,
independent of the condition: any condition with internal tools can be run in either mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional

from tracr_agent.tools.errors import ToolError


@dataclass(frozen=True)
class StaticDump:
    """What the single prompt of a no-tool condition holds."""

    hooks: tuple[str, ...] = ("attn.hook_pattern", "hook_pos_embed")
    """Hooks dumped for each input (a per-layer name like `attn.hook_pattern` means every layer's)."""
    io_pairs: int = 0
    """How many random input/output pairs follow the dump."""


@dataclass(frozen=True)
class ConditionRules:
    name: str
    summary: str
    """One line for people (CLI help, README)."""
    tool_kinds: frozenset = frozenset()
    """Kinds of registered tools allowed ('io', 'internal', 'meta'; see ToolSpec.kind)."""
    also_tools: frozenset = frozenset()
    """Tools allowed by name beyond those kinds."""
    reveals_output: bool = True
    """Whether decoded outputs (logits, the marked output variable) may be shown."""
    prompt_note: str = ""
    """The sentence the system prompt adds about what the agent can see."""
    static: Optional[StaticDump] = None
    """Set for a no-tool condition: one prompt with this dump, one answer."""

    @property
    def has_tools(self) -> bool:
        return self.static is None

    def allows(self, spec) -> bool:
        """Whether a registered tool (a ToolSpec) is available in this condition."""
        return self.has_tools and (spec.kind in self.tool_kinds or spec.name in self.also_tools)


_ALL_KINDS = frozenset({"io", "internal", "meta"})

CONDITIONS: dict[str, ConditionRules] = {c.name: c for c in (
    ConditionRules("static", "no tools: one prompt holding a dump of chosen hooks (the prior study's method)",
              static=StaticDump()),
    ConditionRules("static+io", "no tools: the static dump plus input/output pairs", static=StaticDump(io_pairs=10)),
    ConditionRules("blackbox", "run_model only (plus submit_prediction)", tool_kinds=frozenset({"io"}),
              also_tools=frozenset({"submit_prediction"}),
              prompt_note="You can only run the model on inputs; you cannot see its internals."),
    ConditionRules("whitebox", "every internal tool, but no decoded outputs (no run_model, no logits, output variable "
              "unmarked)", tool_kinds=_ALL_KINDS - {"io"}, reveals_output=False,
              prompt_note="You can read every internal activation and weight-derived view, but you cannot see the "
                          "model's decoded outputs, its logits, or which residual variable the unembedding reads."),
    ConditionRules("full", "every tool", tool_kinds=_ALL_KINDS,
              prompt_note="You can run the model and read any internal activation."),
)}


@dataclass(frozen=True)
class ResidualRules:
    """The second axis (`ToolContext.residual`), independent of the condition: how residual
    dimensions are named in every tool output, the static dump and the prompt."""

    name: str
    summary: str
    prompt_note: str
    """What the system prompt says about the residual variables."""


RESIDUAL_MODES: dict[str, ResidualRules] = {m.name: m for m in (
    ResidualRules("labelled", "residual dimensions carry tracr's variables under neutral names "
                 "(tokens:a, indices:3, v2:1, …)",
                 "Here the variables have neutral names (v1, v2, …); `tokens`, `indices` and `one` are the\n"
                 "input token, the position, and a constant."),
    ResidualRules("raw", "residual dimensions are unlabelled (d0 … dN, in the model's order): the investigator "
                 "finds the variables",
                 "Here the residual dimensions are unlabelled (d0, d1, …): which dimensions form a variable, and\n"
                 "what each one holds, is for you to find."),
)}


def check_residual(mode: str) -> str:
    """`mode` when it is a residual mode, else ToolError naming the choices."""
    if mode not in RESIDUAL_MODES:
        raise ToolError(f"unknown residual mode {mode!r}; choose one of: {', '.join(RESIDUAL_MODES)}")
    return mode


def get_condition(name) -> ConditionRules:
    """The declared condition, or ToolError naming the choices."""
    if isinstance(name, ConditionRules):
        return name
    try:
        return CONDITIONS[name]
    except (KeyError, TypeError):
        raise ToolError(f"unknown condition {name!r}; choose one of: {', '.join(CONDITIONS)}") from None


def with_tools() -> list[str]:
    """Names of the conditions in which an investigator calls tools (interactive sessions, the lab)."""
    return [c.name for c in CONDITIONS.values() if c.has_tools]


class _Name(str, Enum):
    """A declared name: compares, hashes, prints and serialises as its plain string."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


Condition = _Name("Condition", {name.upper().replace("+", "_"): name for name in CONDITIONS})
"""The declared conditions' names (Condition.FULL == "full"), made from the declarations above."""
Residual = _Name("Residual", {name.upper(): name for name in RESIDUAL_MODES})
"""The residual modes' names (Residual.RAW == "raw")."""
