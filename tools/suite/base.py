"""The tool framework: a registry of plain functions over a subject, conditions, and safe calling.

A tool is a function `fn(subject, ctx, args) -> str` with a pydantic argument
model. `call_tool` is the only way anyone (agent, CLI, lab, tests) runs one: it
validates arguments, applies the condition's policy, caps the output, and
turns every failure into an error text the caller can act on — nothing
escapes as an exception.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional

from pydantic import BaseModel, ValidationError, WithJsonSchema

from tracr_agent.tools.errors import ToolError
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS, cap_text
from tracr_agent.tools.protocol.payloads import payload
from tracr_agent.tools.protocol.values import fmt_seq
from tracr_agent.tools.subjects.rawview import raw_view
from tracr_agent.tools.subjects.subject import InputError
from tracr_agent.tools.conditions import (  # noqa: F401 (re-exported)
    CONDITIONS,
    RESIDUAL_MODES,
    Condition,
    ConditionRules,
    Residual,
    check_residual,
    get_condition,
)


TOKEN_SCHEMA = {"type": "string", "description": "a token of the input vocab (a number may be given as text: \"3\" for 3)"}
Tokens = Annotated[list, WithJsonSchema({"type": "array", "items": TOKEN_SCHEMA})]
"""One input sequence. Every array in a tool's schema has a typed `items` (Gemini's function declarations
reject `items: {}`); tokens are declared as text, which every provider's schema rules accept and
`Subject.check_input` reads back ("3" is the token 3), while the values themselves are checked there."""
TokenLists = Annotated[list[list], WithJsonSchema({"type": "array", "items": {"type": "array", "items": TOKEN_SCHEMA}})]
"""Several input sequences (see `Tokens`)."""


@dataclass
class ToolContext:
    condition: str = Condition.FULL
    cap_tokens: int = DEFAULT_CAP_TOKENS
    residual: str = Residual.LABELLED
    """Residual.LABELLED (tracr's residual variables under neutral names) or RAW (unlabelled dims d0 … dN)."""
    seed: int = 0
    """The episode's seed (its trial in a batch): tools that sample inputs draw them with it."""
    check_submission: bool = True
    """Whether submit_prediction runs f on a few inputs before recording it (not in a forced last turn,
    which has no turn left to fix it: the prediction is recorded and scored as it is)."""

    @property
    def raw(self) -> bool:
        """Whether the residual stream is shown without labels (tools/subjects/rawview.py)."""
        return self.residual == Residual.RAW

    @property
    def rules(self) -> ConditionRules:
        """The condition's declaration (tools/conditions.py)."""
        return get_condition(self.condition)

    @property
    def reveals_output(self) -> bool:
        """Whether decoded outputs (and which variable is the output) may be shown."""
        return self.rules.reveals_output


@dataclass
class ToolSpec:
    name: str
    description: str
    args: type[BaseModel]
    fn: Callable
    kind: str = "internal"
    """'io' (decoded outputs), 'internal' (activations, weights), 'meta' (info, submit)."""


@dataclass
class ToolResult:
    name: str
    text: str
    is_error: bool = False
    latency_ms: float = 0.0
    truncated: bool = False
    data: Any = None
    """The structured payload (tools/protocol/payloads.py): what a program reads instead of `text`."""


REGISTRY: dict[str, ToolSpec] = {}


def tool(name: str, args: type[BaseModel], kind: str = "internal"):
    """Registers a tool; its docstring's first paragraph is the description the agent reads."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip()
        REGISTRY[name] = ToolSpec(name=name, description=" ".join(doc.split("\n\n")[0].split()),
                                  args=args, fn=fn, kind=kind)
        return fn

    return deco


# -- conditions -----------------------------------------------------------------------------

def check_condition(condition: str) -> str:
    """`condition` when it is declared, else ToolError naming the choices."""
    return get_condition(condition).name


def tool_names(condition: str) -> list[str]:
    """The tools available in a condition, in a stable order (TOOL_MODULES, then each module's own
    order), whichever module happened to be imported first."""
    load_all()
    rules = get_condition(condition)
    order = {f"tracr_agent.tools.suite.{m}": i for i, m in enumerate(TOOL_MODULES)}
    names = sorted(REGISTRY, key=lambda n: order.get(REGISTRY[n].fn.__module__, len(order)))  # stable sort
    return [n for n in names if rules.allows(REGISTRY[n])]


TOOL_MODULES = ("residual", "activations", "outputs", "ablation", "probe", "writes", "project", "info", "prediction")
"""The modules that register tools, in the order the agent's tool list shows them."""


def load_all() -> None:
    # Importing the modules registers their tools.
    import importlib

    for m in TOOL_MODULES:
        importlib.import_module(f"tracr_agent.tools.suite.{m}")


# -- calling --------------------------------------------------------------------------------


def describe_validation(name: str, spec: ToolSpec, e: ValidationError) -> str:
    problems = []
    for err in e.errors()[:4]:
        where = ".".join(str(x) for x in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"error: bad arguments for {name}: {'; '.join(problems)}. Expected: {signature(spec)}"


def signature(spec: ToolSpec) -> str:
    parts = []
    for fname, f in spec.args.model_fields.items():
        import typing

        # Literal['pre', 'mid', 'post'] and Optional[int] say more than their bare names
        if typing.get_args(f.annotation):
            ann = str(f.annotation).replace("typing.", "")
        else:
            ann = getattr(f.annotation, "__name__", None) or str(f.annotation)
        parts.append(f"{fname}: {ann}" + ("" if f.is_required() else f" = {f.default!r}"))
    return f"{spec.name}({', '.join(parts)})"


MAX_ARG_DEPTH = 64
"""Deepest nesting of brackets accepted in a tool call's JSON arguments (no tool needs more than a few)."""


def json_depth(text: str) -> int:
    """Deepest bracket nesting in a JSON text, counted without parsing (strings are skipped)."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def call_tool(subject, name: str, args, ctx: Optional[ToolContext] = None) -> ToolResult:
    """Runs one tool call. Never raises: problems come back as `error: …` text."""
    ctx = ctx or ToolContext()
    t0 = time.perf_counter()
    try:
        return _call_tool(subject, name, args, ctx, t0)
    except RecursionError:
        text = f"error: arguments for {name} are nested too deeply; send a flat JSON object"
    except Exception as e:  # a bug anywhere above must not end the episode: the model sees it
        text = f"error: {name} failed: {type(e).__name__}: {str(e)[:500]}"
    return ToolResult(name=str(name), text=text, is_error=True, latency_ms=(time.perf_counter() - t0) * 1000)


def _call_tool(subject, name, args, ctx: ToolContext, t0: float) -> ToolResult:
    import difflib

    load_all()

    def done(text: str, is_error: bool = False) -> ToolResult:
        text, truncated = cap_text(text, ctx.cap_tokens)
        return ToolResult(name=name, text=text, is_error=is_error, latency_ms=(time.perf_counter() - t0) * 1000,
                          truncated=truncated, data=payload(name, args, text, is_error))

    allowed = tool_names(ctx.condition)
    if not isinstance(name, str) or name not in allowed:
        close = difflib.get_close_matches(str(name), allowed, n=2)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        if isinstance(name, str) and name in REGISTRY:
            return done(f"error: tool {name} is not available in this session.{hint} Available: {', '.join(allowed)}", True)
        return done(f"error: unknown tool {name!r}.{hint} Available: {', '.join(allowed)}", True)
    spec = REGISTRY[name]
    if isinstance(args, str):
        if json_depth(args) > MAX_ARG_DEPTH:
            return done(f"error: arguments for {name} are nested deeper than {MAX_ARG_DEPTH} levels. "
                        f"Expected: {signature(spec)}", True)
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as e:
            return done(f"error: arguments for {name} are not valid JSON ({e.msg}). Expected: {signature(spec)}", True)
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return done(f"error: arguments for {name} must be a JSON object. Expected: {signature(spec)}", True)
    try:
        parsed = spec.args.model_validate(args)
    except ValidationError as e:
        return done(describe_validation(name, spec, e), True)
    if ctx.residual not in RESIDUAL_MODES:
        return done(f"error: unknown residual mode {ctx.residual!r}; choose one of: {', '.join(RESIDUAL_MODES)}", True)
    if ctx.raw:
        subject = raw_view(subject)
    try:
        return done(spec.fn(subject, ctx, parsed))
    except ToolError as e:
        return done(f"error: {e}", True)
    except Exception as e:  # an input error from the subject, or a bug: either way the loop goes on
        if isinstance(e, InputError):
            return done(f"error: {e}", True)
        return done(f"error: {name} failed: {type(e).__name__}: {e}", True)


def check_inputs(subject, inputs, max_inputs: int) -> list[list]:
    if not isinstance(inputs, list) or not inputs:
        raise ToolError(f"give at least one input sequence, e.g. [{fmt_seq(subject.vocab[:3])}]")
    if len(inputs) > max_inputs:
        raise ToolError(f"at most {max_inputs} inputs per call (got {len(inputs)})")
    return [subject.check_input(x) for x in inputs]
