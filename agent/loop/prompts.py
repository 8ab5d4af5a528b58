"""What the agent is told: the system prompt and the opening message. Never the task's identity."""

from __future__ import annotations

from tracr_agent.tools.conditions import Condition, Residual
from tracr_agent.tools.suite.base import REGISTRY, RESIDUAL_MODES, get_condition, tool_names

SYSTEM = """You are an interpretability researcher investigating a small transformer compiled by Tracr.
Tracr compiles a RASP program (a sequence-to-sequence algorithm over short token sequences) into exact
transformer weights: attention heads move information between positions, MLPs compute elementwise
functions, and the residual stream holds variables {residual_form}. {residual_note} Every input starts with a BOS token at position 0; the model
produces one output per input position 1..n.

Your goal: find out which algorithm the model computes. Investigate with the tools, form hypotheses and test
them with inputs you choose. When you are confident (or when told to stop), call submit_prediction with
- label: a short conventional name for the algorithm,
- description: what it computes, precisely,
- implementation: Python source defining f(tokens: list) -> list giving the model's output for each input
  position (BOS excluded; None where the model outputs no value),
- confidence: 0..1.
Your implementation is checked against the model on every input, so make it exact.

The model's interface: input vocab: {vocab}   max_seq_len: {max_seq_len} (inputs have 1..{max_seq_len} tokens);
output: {output_kind}.

Tools available in this session: {tools}.
{condition_note}Be economical: each tool call costs time and tokens, and outputs are capped."""

ONE_HOT = "in one-hot (categorical) or single-dimension (numerical) form"
AS_DIRECTIONS = "as directions or subspaces"
NOT_PRIVILEGED = ("Here the residual dimensions are unlabelled (d0, d1, …) and the basis is not privileged: which "
                  "directions form a variable,\nand what each one holds, is for you to find.")
"""For a subject with no privileged residual basis (a transformed one): no one-hot blocks to read."""

OPENING = "Investigate the model and commit to a prediction with submit_prediction."


def system_prompt(condition: Condition, subject, closed_set_labels: list[str] | None = None,
                  residual: Residual = Residual.LABELLED) -> str:
    names = tool_names(condition)
    tools = "; ".join(f"{n} ({REGISTRY[n].description.split('.')[0].lower()})" for n in names)
    kind = "numerical (one number per position)" if subject.output_kind == "numerical" else "categorical"
    note = get_condition(condition).prompt_note
    basis_free = getattr(subject, "transform", None) is not None
    text = SYSTEM.format(tools=tools, condition_note=note + "\n" if note else "", vocab=subject.vocab_text(),
                         residual_form=AS_DIRECTIONS if basis_free else ONE_HOT,
                         residual_note=NOT_PRIVILEGED if basis_free else RESIDUAL_MODES[residual].prompt_note,
                         max_seq_len=subject.max_seq_len, output_kind=kind)
    if closed_set_labels:
        text += ("\n\nThe model performs one of these tasks; your label must be exactly one of them:\n"
                 + ", ".join(closed_set_labels))
    return text


def closed_set_labels() -> list[str]:
    # the zoo loads only for a closed-set episode: an open-world one never imports it (tests/integration/test_openworld.py)
    from tracr_agent.tools.subjects.zoo import all_tasks

    return [t.id for t in all_tasks()]


FORCE = ("You have reached the {limit} limit ({value:g}). Your only allowed action now is to call "
         "submit_prediction with your best hypothesis.")
NUDGE = "Continue the investigation by calling a tool, or commit with submit_prediction."
