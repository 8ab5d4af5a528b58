"""The interpretability tools an investigator (agent or person) calls on a subject.

`call_tool(subject, name, args, ToolContext(condition=...))` runs any tool and
returns its text exactly as the agent sees it. `langchain_tools` wraps the
same functions for a LangGraph agent.
"""

from tracr_agent.tools.suite.base import (  # noqa: F401
    CONDITIONS,
    REGISTRY,
    RESIDUAL_MODES,
    Condition,
    ToolContext,
    ToolResult,
    call_tool,
    check_condition,
    check_residual,
    get_condition,
    tool_names,
)
