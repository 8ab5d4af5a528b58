"""An episode's budget, declared once and import-free: each limit's name, type, default and help.

`Limits` (records/limits.py) is built from this table, and so are the CLI's limit options
(agent/cli/options.py), which may not load pydantic: `tracr-agent --help` stays fast.
"""

LIMIT_FIELDS: dict[str, tuple[type, object, str]] = {
    "max_tool_calls": (int, 40, "Tool-call limit."),
    "max_llm_turns": (int, 40, "LLM-turn limit."),
    "max_context_tokens": (int, 128_000, "Context limit: the input tokens of one LLM request (the next request's "
                                         "size is estimated from the last one and what was added since)."),
    "max_tokens": (int, None, "Token limit summed over the episode (input and output of every request); off "
                              "unless given."),
    "max_seconds": (float, 900.0, "Wall-time limit in seconds."),
    "max_cost": (float, 5.0, "Cost limit in USD."),
}
"""name -> (type, default, help). Every limit is positive; a float one is also finite; a default of None
means the limit is off unless given."""
