"""An episode's settings, typed and declared once: `EpisodeConfig`.

Built once — from a command's options (`run`, `run --interactive`, `lab`) or from a batch's plan
(`eval`) — and then passed down whole instead of loose parameters: the episode, the driver, the
investigators (which read `limits`), the static dump. It is persisted once, as itself: the
transcript header is an `EpisodeSettings` plus the loaded subject's identity (records/transcript.py),
and the session store keeps `config.model_dump(mode="json")` for a resume; `Header.config()` and
`EpisodeConfig.model_validate(...)` read either back.

Adding a setting: give it a default here (old transcripts and store rows, which lack it, read as
that default) and raise `transcript.SCHEMA_MINOR`; readers of older versions ignore fields they do
not know, so a new field never breaks the format.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field, field_validator

from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.protocol.cap import DEFAULT_CAP_TOKENS
from tracr_agent.tools.subjects.spec import SubjectSpec
from tracr_agent.tools.conditions import Condition, Residual


class EpisodeSettings(BaseModel):
    """Everything about an episode except which subject it investigates (the header's `subject` is
    the loaded subject's identity, the config's the spec that names it)."""

    condition: Condition = Condition.FULL
    residual: Residual = Residual.LABELLED
    """How tools show the residual stream: tracr's labels (neutral names) or raw dims d0…dN."""
    llm: str = "baseline"
    """The investigator's spec (`--llm`), as given (a replay file's path made absolute)."""
    compat: Optional[str] = None
    """The LLM server's quirks mode (`--compat`)."""
    api_key_env: Optional[str] = None
    """The environment variable holding the LLM endpoint's key (`--api-key-env`): its name, never the key."""
    limits: Optional[Limits] = Field(default_factory=Limits)
    """The budget; None for an episode that runs without one (the lab)."""
    cap_tokens: int = DEFAULT_CAP_TOKENS
    """The tool-output cap (tokens) the episode ran with; `replay --rerun` reuses it."""
    seed: int = 0
    closed_set: bool = False
    """Whether the agent is told the zoo's task labels."""
    static_hooks: Optional[list[str]] = None
    """static conditions: the hooks dumped (None: the condition's declared ones)."""
    static_inputs: Optional[list[list]] = None
    """static conditions: the inputs dumped (None: one random input of full length, drawn with the seed)."""
    static_style: Literal["tool", "study"] = "tool"
    """static conditions: `tool` dumps each hook as the tools print it (neutral labels) and asks for a
    `PREDICTION:` line; `study` reproduces the prior study's inputs exactly (`--preset seed`): its prompt
    and raw TransformerLens tensors, nothing else (agent/investigators/static.py)."""
    temperature: Optional[float] = None
    """The sampling temperature sent to the LLM (None: the provider's default, recorded as sent)."""
    reasoning_effort: Optional[str] = None
    """The reasoning effort sent to the LLM (OpenAI's reasoning models), or None."""
    max_output_tokens: Optional[int] = None
    """The cap on a reply's tokens sent to the LLM, or None (the provider's default)."""
    price: Optional[list[float]] = None
    """`--price`: USD per million input, output and cached-input tokens, overriding the price table."""
    trim_tool_outputs: Optional[int] = None
    """Send only the last N tool outputs in full (older ones as a one-line stub; the transcript keeps
    them whole); None sends every one in full."""

    @field_validator("limits", mode="before")
    @classmethod
    def _no_budget(cls, value):
        # transcripts of labs written before limits were typed recorded "no budget" as {}
        return None if value == {} else value

    def settings(self) -> dict:
        """The settings alone, as keyword arguments for another EpisodeSettings (e.g. a header)."""
        return {name: getattr(self, name) for name in EpisodeSettings.model_fields}


class EpisodeConfig(EpisodeSettings):
    """One episode's settings and the subject it investigates."""

    subject: SubjectSpec
