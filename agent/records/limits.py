"""An episode's budget (`Limits`) and the tool-output cap, with their one set of defaults and checks.

Every command that runs an episode (run, eval, run --interactive, lab) takes its limit options
from here (agent/cli/options.py turns the fields into typer options), the transcript header
records them, and the graph enforces them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError

from tracr_agent.tools.errors import UserError

MIN_CAP_TOKENS = 200
"""Smallest tool-output cap (--cap) accepted: below it even one tool's header would be cut."""


class Limits(BaseModel):
    """An episode's budget; every limit is positive and finite (nan would switch a limit off)."""

    max_tool_calls: int = Field(40, gt=0, description="Tool-call limit.")
    max_llm_turns: int = Field(40, gt=0, description="LLM-turn limit.")
    max_tokens: int = Field(400_000, gt=0, description="Token limit.")
    max_seconds: float = Field(900.0, gt=0, allow_inf_nan=False, description="Wall-time limit in seconds.")
    max_cost: float = Field(5.0, gt=0, allow_inf_nan=False, description="Cost limit in USD.")

    @classmethod
    def from_options(cls, **values) -> "Limits":
        """Limits from CLI options; a bad value raises UserError naming the option (one line, exit 2)."""
        try:
            return cls(**values)
        except ValidationError as e:
            err = e.errors()[0]
            option = "--" + str(err["loc"][0]).replace("_", "-")
            kind = "a positive integer" if cls.model_fields[err["loc"][0]].annotation is int else \
                "a positive, finite number"
            raise UserError(f"{option} must be {kind} (got {err.get('input')!r})") from None


def check_cap(cap: int) -> int:
    """--cap as given, or UserError when it is below MIN_CAP_TOKENS."""
    if cap < MIN_CAP_TOKENS:
        raise UserError(f"--cap must be at least {MIN_CAP_TOKENS} tokens (got {cap})")
    return cap
