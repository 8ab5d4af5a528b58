"""The tool suite as Inspect AI tools, and the per-sample state they share with the solver and scorer.

Each Inspect tool wraps one registered tool (tools/suite/base.py): the same name, description and
argument schema (from its pydantic model), run through `call_tool` with the sample's `ToolContext`,
so it returns exactly the text our own agent reads — the same output cap, condition and residual
mode. Inspect's own output truncation is switched off for them (`max_output=0`): the cap is ours.

The episode a sample runs (task, condition, residual mode, cap, tool-call limit, seed) lives in the
sample's store (`EpisodeStore`, an Inspect `StoreModel`): the setup solver writes it, the tools, the
solver and the scorer read it, and the log keeps it, so `tracr-agent replay/rescore/view` can read
the run back. `tracr_tools()` is a `ToolSource` giving the current sample's tools, for any Inspect
agent (`react(tools=[tracr_tools()])`).
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from inspect_ai.tool import Tool, ToolDef, ToolParams, ToolSource
from inspect_ai.util import StoreModel, store_as
from inspect_ai.util._json import json_schema  # Inspect's own pydantic -> JSON Schema (what @tool uses)
from pydantic import Field

from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS

ALREADY_SUBMITTED = "error: a prediction was already submitted"
TOOL_LIMIT = "error: tool-call limit reached; call submit_prediction"
"""The loop's refusals, worded as agent/loop/graph.py words them."""


class EpisodeStore(StoreModel):
    """One sample's episode and its progress (kept in the Inspect log's sample store)."""

    task: str = ""
    """The subject's task id, or the model directory's name within its suite."""
    suite: Optional[str] = None
    model_dir: Optional[str] = None
    transform: Optional[str] = None
    """The subject's transform (`rotated:3`), or None."""
    condition: str = "full"
    residual: str = "labelled"
    cap_tokens: int = DEFAULT_CAP_TOKENS
    closed_set: bool = False
    max_tool_calls: int = Limits().max_tool_calls
    seed: int = 0
    subject: Optional[dict] = None
    """The transcript header's subject reference (fingerprint, kind, task_id, source)."""
    tool_calls: int = 0
    prediction: Optional[dict] = None
    """The submit_prediction arguments, once a submission was accepted."""
    forced: bool = False
    """The prediction came in the forced last turn (after a limit)."""
    limit: Optional[dict] = Field(default=None)
    """The limit that forced the last turn: {"limit": name, "value": number, "step": turn}."""


_subjects: dict = {}
_subjects_lock = threading.Lock()


def sample_spec(ep: EpisodeStore):
    """The SubjectSpec of a sample: its suite member's model directory, else its task name, under its
    transform (as batch.py's EpisodeSpec.subject_spec)."""
    from tracr_agent.tools.subjects.spec import member_spec

    return member_spec(ep.task, ep.model_dir, ep.transform)


def sample_subject(ep: EpisodeStore):
    """The subject of a sample, loaded once per process (samples of one subject share it; its forward
    passes are serialised by the subject's own lock)."""
    key = sample_spec(ep)
    with _subjects_lock:
        if key not in _subjects:
            _subjects[key] = key.load()
        return _subjects[key]


def tool_params(args_model) -> ToolParams:
    """A registered tool's argument model as Inspect tool parameters."""
    schema = json_schema(args_model)
    return ToolParams(properties=schema.properties or {}, required=schema.required or [])


def inspect_tool(subject, name: str, ep: EpisodeStore) -> Tool:
    """Registered tool `name` as an Inspect tool acting on `subject` in the sample's episode."""
    import anyio

    from tracr_agent.tools.suite.base import REGISTRY, ToolContext, call_tool

    spec = REGISTRY[name]
    ctx = ToolContext(condition=ep.condition, cap_tokens=ep.cap_tokens, residual=ep.residual)

    async def execute(**kwargs: Any) -> str:
        if ep.prediction is not None:
            return ALREADY_SUBMITTED
        if name != "submit_prediction" and ep.tool_calls >= ep.max_tool_calls:
            return TOOL_LIMIT
        result = await anyio.to_thread.run_sync(call_tool, subject, name, kwargs, ctx)
        ep.tool_calls += 1
        if name == "submit_prediction" and not result.is_error:
            ep.prediction = dict(kwargs)
        return result.text

    return ToolDef(execute, name=name, description=spec.description, parameters=tool_params(spec.args),
                   max_output=0).as_tool()


def sample_tools(names: Optional[list[str]] = None) -> list[Tool]:
    """The current sample's tools (its condition's, or `names` of them), in our agent's order."""
    from tracr_agent.tools.suite.base import tool_names

    ep = store_as(EpisodeStore)
    if ep.subject is None:
        raise RuntimeError("the tracr-agent tools need the sample's setup (the task's `episode_setup` solver) "
                           "to have run first")
    subject = sample_subject(ep)
    return [inspect_tool(subject, n, ep) for n in tool_names(ep.condition) if names is None or n in names]


class _SampleToolSource:
    async def tools(self) -> list[Tool]:
        return sample_tools()


def tracr_tools() -> ToolSource:
    """The current sample's tool suite, for any Inspect agent: `react(tools=[tracr_tools()])`."""
    return _SampleToolSource()
