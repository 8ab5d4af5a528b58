"""LangChain wrappers: one StructuredTool per tool of a condition, for `bind_tools` and LangGraph.

Each wrapper carries the tool's pydantic argument model as its schema and its
description, and runs the call through `call_tool`, so it returns exactly the
text the agent would get from a direct call and never raises: bad arguments
come back as `error: …` text too.
"""

from __future__ import annotations

from typing import Optional

from pydantic import ValidationError

from tracr_agent.tools.suite.base import REGISTRY, ToolContext, describe_validation, call_tool, signature, tool_names


def _make(subject, ctx: ToolContext, name: str):
    from langchain_core.tools import StructuredTool

    spec = REGISTRY[name]

    def run(**kwargs) -> str:
        return call_tool(subject, name, kwargs, ctx).text

    def on_bad_args(e: Exception) -> str:
        if isinstance(e, ValidationError):
            return describe_validation(name, spec, e)
        return f"error: bad arguments for {name}: {e}. Expected: {signature(spec)}"

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=spec.description,
        args_schema=spec.args,
        infer_schema=False,
        handle_validation_error=on_bad_args,
        handle_tool_error=True,
    )


def langchain_tools(subject, ctx: Optional[ToolContext] = None) -> list:
    """The condition's tools as LangChain StructuredTools, in `tool_names` order."""
    ctx = ctx or ToolContext()
    return [_make(subject, ctx, name) for name in tool_names(ctx.condition)]
