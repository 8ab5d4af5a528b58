"""The interpretability tools an investigator (agent or person) calls on a subject.

`call_tool(subject, name, args, ToolContext(condition=...))` runs any tool and
returns its text exactly as the agent sees it. `langchain_tools` wraps the
same functions for a LangGraph agent.
"""

from tracr_agent.tools.suite.base import (  # noqa: F401
    REGISTRY,
    ToolContext,
    ToolResult,
    call_tool,
    check_condition,
    tool_names,
)
from tracr_agent.tools.conditions import (  # noqa: F401
    CONDITIONS,
    RESIDUAL_MODES,
    Condition,
    ConditionRules,
    Residual,
    check_residual,
    get_condition,
)
