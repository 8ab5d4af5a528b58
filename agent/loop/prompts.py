"""What the agent is told: the system prompt, the opening message, the budget left after each step,
and the notices of a forced last turn. Never the task's identity.

The system prompt says only what is true in the episode's condition: the model's internals are
described only where a tool shows them, the one-hot layout of the residual stream only for a
subject whose basis is tracr's own (a transformed subject's is not), and every tool available is
listed with its full description. It states the interface (vocab, length, the output values as
Python values), the modules an implementation may import, a method, and the budget.
"""

from __future__ import annotations

from typing import Optional

from tracr_agent.agent.records.limits import Limits
from tracr_agent.tools.conditions import Condition, Residual
from tracr_agent.tools.sandbox.worker import ALLOWED_TEXT
from tracr_agent.tools.suite.base import REGISTRY, RESIDUAL_MODES, get_condition, tool_names
from tracr_agent.tools.suite.prediction import output_set_text

INTRO = """You are an interpretability researcher investigating a small transformer compiled by Tracr.
Tracr compiles a RASP program (a sequence-to-sequence algorithm over short token sequences) into exact
transformer weights. Your goal: find out which algorithm the model computes."""

INTERNALS = """Attention heads move information between positions, MLPs compute elementwise functions, and the
residual stream holds the program's variables."""
ONE_HOT = """Tracr gives each variable dimensions of its own: a categorical variable one-hot (one dimension per
value), a numerical variable a single dimension."""
TRANSFORMED = """This model's residual basis is not privileged: a variable is a direction or a subspace of the residual
stream (d0, d1, …), not a dimension per value, and directions may overlap; which ones matter, and
what they mean, is for you to find."""

INTERFACE = """## The model's interface
- input vocab: {vocab}; inputs have 1..{max_seq_len} tokens. A BOS token is prepended at position 0 for
  you, and the model gives one output per input position 1..n.
- outputs: {outputs}."""

METHOD = """## Method
- Keep a list of hypotheses about the algorithm and test each one until it is confirmed or refuted;
  add new ones when an observation fits none.
- Cover the inputs widely: the shortest and the longest inputs, repeated and distinct tokens, every token
  of the vocab, orderings that would tell your hypotheses apart.
- Verify before submitting: predict what the model does on inputs you have not looked at yet, then check.
- The label is the short conventional name a researcher would give the algorithm (e.g. 'cumulative sum',
  'most frequent token', 'caesar shift'), not a description."""

SUBMIT = """## Submitting
Call submit_prediction with
- label: the conventional name,
- description: what the model computes, precisely,
- implementation: Python source defining f(tokens: list) -> list with the model's output at every input
  position (BOS excluded), as the Python values stated above; only these modules may be imported:
  {modules},
- confidence: 0..1.
The implementation is first run on a few inputs: if it fails there (an exception, a blocked import, a
wrong number of outputs, a value the model cannot output) nothing is recorded and you are told what to fix. It is
then scored against the model on every input, so make it exact."""

BUDGET = """## Budget
{limits}. After each step you are told what is left. When a limit is reached you get one last turn in
which only submit_prediction is allowed."""

OPENING = "Investigate the model and commit to a prediction with submit_prediction."


def shows_internals(condition) -> bool:
    """Whether some tool of the condition reads the model's internals."""
    return any(REGISTRY[n].kind == "internal" for n in tool_names(condition))


def about_internals(subject, residual: Residual) -> str:
    """What the prompt says about the residual stream, true for this subject and residual mode."""
    if subject.is_raw and getattr(subject, "transform", None) is not None:
        return f"{INTERNALS}\n{TRANSFORMED}"
    return f"{INTERNALS}\n{ONE_HOT} {RESIDUAL_MODES[residual].prompt_note}"


def tool_list(condition) -> str:
    """Every tool of the condition with its full description."""
    return "\n".join(f"- {n}: {REGISTRY[n].description}" for n in tool_names(condition))


def budget_text(limits: Limits, priced: bool = True) -> str:
    """The budget as the prompt states it."""
    parts = [f"at most {limits.max_tool_calls} tool calls", f"{limits.max_llm_turns} LLM turns",
             f"{limits.max_context_tokens:,} tokens of context per request"]
    if limits.max_tokens is not None:
        parts.append(f"{limits.max_tokens:,} tokens in all (input and output of every request, summed)")
    parts.append(f"{limits.max_seconds:g} s of wall time")
    if priced:
        parts.append(f"${limits.max_cost:.2f} of cost")
    return "You have " + ", ".join(parts[:-1]) + " and " + parts[-1]


def system_prompt(condition: Condition, subject, closed_set_labels: list[str] | None = None,
                  residual: Residual = Residual.LABELLED, limits: Optional[Limits] = None,
                  priced: bool = True) -> str:
    """The system prompt of a tool-using episode (see the module docstring); `limits`: the budget to
    state (None: no budget, as in the lab); `priced`: whether the episode's cost is known."""
    rules = get_condition(condition)
    sections = [INTRO]
    sees = [rules.prompt_note] if rules.prompt_note else []
    if shows_internals(condition):
        sees.append(about_internals(subject, residual))
    if sees:
        sections.append("## What you can see\n" + "\n".join(sees))
    sections.append(INTERFACE.format(vocab=subject.vocab_text(), max_seq_len=subject.max_seq_len,
                                     outputs=output_set_text(subject)))
    sections.append("## Tools\n" + tool_list(condition))
    sections.append(METHOD)
    sections.append(SUBMIT.format(modules=ALLOWED_TEXT))
    if limits is not None:
        sections.append(BUDGET.format(limits=budget_text(limits, priced)))
    text = "\n\n".join(sections)
    if closed_set_labels:
        text += ("\n\nThe model performs one of these tasks; your label must be exactly one of them:\n"
                 + ", ".join(closed_set_labels))
    return text


def closed_set_labels() -> list[str]:
    # the zoo loads only for a closed-set episode: an open-world one never imports it (tests/integration/test_openworld.py)
    from tracr_agent.tools.subjects.zoo import all_tasks

    return [t.id for t in all_tasks()]


def budget_left(used: dict, limits: Limits, elapsed: float, priced: bool = True) -> str:
    """What is left of the budget, as the line after a step's tool results says it. `used`: the
    counters (tool_calls, llm_turns, tokens, cost) and `context`, the next request's estimated size."""
    parts = [f"{max(0, limits.max_tool_calls - used.get('tool_calls', 0))} of {limits.max_tool_calls} tool calls",
             f"{max(0, limits.max_llm_turns - used.get('llm_turns', 0))} of {limits.max_llm_turns} LLM turns",
             f"context ~{used.get('context', 0):,} of {limits.max_context_tokens:,} tokens"]
    if limits.max_tokens is not None:
        parts.append(f"{max(0, limits.max_tokens - used.get('tokens', 0)):,} of {limits.max_tokens:,} tokens")
    parts.append(f"{max(0.0, limits.max_seconds - elapsed):.0f} of {limits.max_seconds:g} s")
    if priced:
        parts.append(f"${max(0.0, limits.max_cost - used.get('cost', 0.0)):.2f} of ${limits.max_cost:.2f}")
    return "[budget left: " + ", ".join(parts) + "]"


FORCE = ("You have reached the {limit} limit ({value:g}). Your only allowed action now is to call "
         "submit_prediction with your best hypothesis.")
NUDGE = "Continue the investigation by calling a tool, or commit with submit_prediction."
