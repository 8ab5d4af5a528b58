"""What an LLM call costs: the price tables (with cached-input prices), `--price`, and the token usage
read from a reply, cached tokens included.

Prices are USD per million tokens. A reply's input tokens are split into those read from the
provider's prompt cache (OpenAI's automatic caching, Anthropic's cache_control markers, Gemini's
implicit caching: LangChain's `usage_metadata["input_token_details"]["cache_read"]`), those written
to it (Anthropic charges a premium for them: `cache_creation`) and the rest, each at its own price.
A model without a known price has an unknown cost, not $0: its episodes say so, and `--price`
(`IN,OUT[,CACHED]`) gives one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from tracr_agent.tools.errors import UserError


class Price(NamedTuple):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: Optional[float] = None
    """Input read from the prompt cache (None: the input price)."""
    cache_write: Optional[float] = None
    """Input written to the prompt cache (None: the input price)."""

    def setting(self) -> list[float]:
        """As `--price` gives it and the header records it: input, output and (when set) cached input."""
        return [self.input, self.output] + ([self.cached_input] if self.cached_input is not None else [])

    def cost(self, usage: "TokenUsage") -> float:
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input if self.cache_write is None else self.cache_write
        plain = max(0, usage.input_tokens - usage.cache_read - usage.cache_write)
        return (plain * self.input + usage.cache_read * cached + usage.cache_write * write
                + usage.output_tokens * self.output) / 1e6


FREE = Price(0.0, 0.0)


def _anthropic(inp: float, out: float) -> Price:
    # cache reads cost a tenth of the input price, 5-minute cache writes 1.25 times it
    return Price(inp, out, round(inp * 0.1, 4), round(inp * 1.25, 4))


OPENAI_PRICES = {"o1": Price(15.0, 60.0, 7.5), "o3": Price(2.0, 8.0, 0.5), "o4-mini": Price(1.1, 4.4, 0.275),
                 "o3-mini": Price(1.1, 4.4, 0.55), "gpt-4o": Price(2.5, 10.0, 1.25),
                 "gpt-4o-mini": Price(0.15, 0.6, 0.075), "gpt-4.1": Price(2.0, 8.0, 0.5),
                 "gpt-4.1-mini": Price(0.4, 1.6, 0.1)}
PROVIDER_PRICES = {
    "anthropic": {"claude-opus-4": _anthropic(15.0, 75.0), "claude-sonnet-4": _anthropic(3.0, 15.0),
                  "claude-haiku-4": _anthropic(1.0, 5.0), "claude-3-7-sonnet": _anthropic(3.0, 15.0),
                  "claude-3-5-sonnet": _anthropic(3.0, 15.0), "claude-3-5-haiku": _anthropic(0.8, 4.0),
                  "claude-3-haiku": _anthropic(0.25, 1.25)},
    "google_genai": {"gemini-2.5-pro": Price(1.25, 10.0, 0.31), "gemini-2.5-flash-lite": Price(0.1, 0.4, 0.025),
                     "gemini-2.5-flash": Price(0.3, 2.5, 0.075), "gemini-2.0-flash": Price(0.1, 0.4, 0.025)},
    "mistralai": {"mistral-large": Price(2.0, 6.0), "mistral-medium": Price(0.4, 2.0),
                  "mistral-small": Price(0.1, 0.3), "codestral": Price(0.3, 0.9)},
}
"""By provider, then by model-name prefix (the longest matching prefix wins)."""


def price_of(table: dict, model: str) -> Optional[Price]:
    """The price of `model`: an exact entry, else the longest prefix (dated ids like claude-sonnet-4-2025…)."""
    if model in table:
        return table[model]
    prefixes = [p for p in table if model.startswith(p)]
    return table[max(prefixes, key=len)] if prefixes else None


def parse_price(text: Optional[str]) -> Optional[Price]:
    """`--price IN,OUT[,CACHED]` (USD per million input, output and cached-input tokens), or None."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or any(not (v >= 0 and v != float("inf")) for v in values):
        raise UserError(f"--price must be IN,OUT or IN,OUT,CACHED: USD per million input, output and cached input "
                        f"tokens, each a number >= 0 (got {text!r})")
    return Price(*values)


def unpriced_note(spec: str) -> str:
    return (f"no price known for {spec}: its cost is unknown (not counted, so --max-cost cannot stop it); "
            "give one with --price IN,OUT[,CACHED] (USD per million tokens)")


@dataclass(frozen=True)
class TokenUsage:
    """One reply's tokens: `input_tokens` counts them all, cached ones included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0


def usage_of(message) -> TokenUsage:
    """The token usage LangChain read from a reply (`usage_metadata`), cache reads and writes included."""
    usage = getattr(message, "usage_metadata", None) or {}
    details = usage.get("input_token_details") or {}
    write = int(details.get("cache_creation") or 0) + sum(
        int(v or 0) for k, v in details.items() if k.startswith("ephemeral_"))
    return TokenUsage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0),
                      int(details.get("cache_read") or 0), write)
