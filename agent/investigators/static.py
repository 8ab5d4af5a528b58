"""The prior study's static method: one prompt holding a dump of chosen hooks, one answer.

Condition `static` dumps the attention patterns and positional embeddings of
one input (the prior study's best setting; the input is drawn with the episode's
seed); `static+io` adds input/output pairs. The prompt is the study's own text.
Two styles (`EpisodeSettings.static_style`):

- `tool` (the default): each hook as the tools print it (neutral labels on the axes),
  followed by a short, separate request for a parseable last line, so the answer is
  scored like any prediction;
- `study` (`eval --preset seed`): the study's inputs exactly — its prompt verbatim around
  the TransformerLens cache tensors as `repr` prints them (batch dimension included, no
  labels, no notes), and no format request. The label is then read from the prose: the
  last task it names (agent/investigators/prose.py).
"""

from __future__ import annotations

import random
import re
from typing import Optional

from langchain_core.messages import HumanMessage

from tracr_agent.agent.investigators.prose import label_from_prose
from tracr_agent.agent.loop.llm_turn import llm_turn
from tracr_agent.agent.loop.marks import marked
from tracr_agent.agent.loop.prompts import closed_set_labels
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.config import EpisodeConfig
from tracr_agent.agent.records.recorder import Recorder
from tracr_agent.tools.errors import UserError
from tracr_agent.tools.conditions import Condition, Residual
from tracr_agent.tools.protocol.hooks import every_layer
from tracr_agent.tools.suite.base import ToolContext, call_tool, get_condition

STUDY_PROMPT = ("Analyse this tracr model layer by layer. compare provided data with known patterns from other "
                "simple tasks and at the end predict top 1 task it probably preforms \n {data}")
ANSWER_FORMAT = ("\n\n(Answer format: finish with one line `PREDICTION: <task name>`; if you can, also give a "
                 "```python block defining f(tokens: list) -> list that reproduces the model's output per position.)")
DUMP_CAP_TOKENS = 12000


def dump_input(subject, seed: int = 0) -> list:
    rng = random.Random(seed)
    return [rng.choice(subject.vocab) for _ in range(subject.max_seq_len)]


def io_inputs(subject, n: int, seed: int = 0) -> list[list]:
    """The inputs of a dump's input/output pairs, drawn with the episode's seed."""
    rng = random.Random(seed + 1)
    return [[rng.choice(subject.vocab) for _ in range(rng.randint(1, subject.max_seq_len))] for _ in range(n)]


def study_dump(subject, condition: Condition, hooks=None, seed: int = 0, inputs=None) -> tuple[str, Optional[dict]]:
    """The dump as the prior study printed it: for each input, each hook's TransformerLens cache tensor
    (`repr`, batch dimension included) under its hook name; then the input/output pairs as Python lists.
    Returns (the text, the pairs' run_model payload or None)."""
    dump = get_condition(condition).static
    parts = []
    for x in inputs or [dump_input(subject, seed)]:
        acts = subject.activations(subject.check_input(x))
        for hook in hooks or dump.hooks:
            for name in every_layer(hook, subject.n_layers):
                if name not in acts:
                    raise UserError(f"static dump: unknown hook {name!r}")
                parts.append(f"{name}: {acts[name].unsqueeze(0)!r}")
    pairs = None
    if dump.io_pairs:
        xs = io_inputs(subject, dump.io_pairs, seed)
        ys = subject.run(xs)
        parts.append("\n".join(f"{x!r} -> {y!r}" for x, y in zip(xs, ys)))
        pairs = call_tool(subject, "run_model", {"inputs": xs}, ToolContext(condition="full")).data
    return "\n".join(parts), pairs


def static_dump(subject, condition: Condition, hooks=None, seed: int = 0, inputs=None,
                residual: Residual = Residual.LABELLED) -> tuple[str, Optional[dict]]:
    """The dump the condition declares (tools/conditions.py StaticDump): for each input, each hook
    (a per-layer name like `attn.hook_pattern` means every layer's; `hooks` overrides the declared ones),
    then the declared number of input/output pairs. Returns (the text, the pairs' run_model payload or None)."""
    dump = get_condition(condition).static
    hooks = hooks or dump.hooks
    ctx = ToolContext(condition="full", cap_tokens=DUMP_CAP_TOKENS, residual=residual)
    parts = []
    for x in inputs or [dump_input(subject, seed)]:
        x = subject.check_input(x)
        parts.append(f"input (BOS prepended): {x}")
        for hook in hooks:
            for name in every_layer(hook, subject.n_layers):
                res = call_tool(subject, "get_activations", {"hook": name, "input": x}, ctx)
                if res.is_error:
                    raise UserError(f"static dump: {res.text}")
                parts.append(f"== {name} ==\n{res.text}")
    pairs = None
    if dump.io_pairs:
        res = call_tool(subject, "run_model", {"inputs": io_inputs(subject, dump.io_pairs, seed)}, ctx)
        parts.append("== input/output pairs ==\n" + res.text)
        pairs = res.data
    return "\n\n".join(parts), pairs


def parse_answer(text: str, style: str = "tool") -> dict:
    """The prediction in an answer: its `PREDICTION:` line (style `tool`) or the last task its prose
    names (`study`), the last ```python block defining f, the whole text as the description."""
    if style == "study":
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        label = label_from_prose(text) or (lines[-1][:80] if lines else "")
        return {"label": label or "unknown", "description": text.strip()[:2000], "implementation": _code(text),
                "confidence": 0.5}
    label = ""
    for line in reversed(text.strip().splitlines()):
        m = re.match(r"\s*\**PREDICTION\**\s*:\s*\**(.+?)\**\s*$", line, re.IGNORECASE)
        if m:
            label = m.group(1).strip().strip("`*\"'")
            break
    if not label:
        lines = [l for l in text.strip().splitlines() if l.strip()]
        label = lines[-1].strip()[:80] if lines else ""
    return {"label": label or "unknown", "description": text.strip()[:2000], "implementation": _code(text),
            "confidence": 0.5}


def _code(text: str) -> str:
    """The last ```python block of an answer that defines f, or ""."""
    blocks = re.findall(r"```(?:python|py)?\s*\n(.*?)```", text, re.DOTALL)
    return next((b for b in reversed(blocks) if re.search(r"^def f\(", b, re.MULTILINE)), "")


def static_prompt(subject, condition, closed_set: bool = False, hooks=None, inputs=None,
                  residual=Residual.LABELLED, seed: int = 0, style: str = "tool") -> str:
    """The one prompt of a static condition: the study's text around the dump, in style `tool` the
    answer format, and (closed set) the zoo's labels."""
    return static_question(subject, condition, closed_set, hooks, inputs, residual, seed, style)[0]


def static_question(subject, condition, closed_set: bool = False, hooks=None, inputs=None,
                    residual=Residual.LABELLED, seed: int = 0, style: str = "tool") -> tuple[str, Optional[dict]]:
    """(`static_prompt`, the run_model payload of its input/output pairs or None)."""
    if style == "study":
        dump, pairs = study_dump(subject, condition, hooks, seed, inputs)
    else:
        dump, pairs = static_dump(subject, condition, hooks, seed, inputs, residual)
    return prompt_around(dump, closed_set, style), pairs


def prompt_around(dump: str, closed_set: bool, style: str = "tool") -> str:
    prompt = STUDY_PROMPT.format(data=dump) + (ANSWER_FORMAT if style == "tool" else "")
    if closed_set:
        prompt += "\nThe task is one of: " + ", ".join(closed_set_labels())
    return prompt


def run_static(subject, backend, config: EpisodeConfig, recorder: Recorder, remaining=None) -> dict:
    """One LLM call on the dump the episode's condition declares (its `static_hooks` and `static_inputs`
    when given); `remaining()` is the episode's wall time left (s), which bounds the call's timeouts
    and retries like the agent's calls."""
    prompt, pairs = static_question(subject, config.condition, config.closed_set, config.static_hooks,
                                  config.static_inputs, config.residual, config.seed, config.static_style)
    msg = marked(HumanMessage(content=prompt), pairs=pairs) if pairs else HumanMessage(content=prompt)
    turn = llm_turn(backend, backend.chat_model, [msg], [msg], 1, recorder, remaining)
    if turn.error:
        return {"status": "error", "error": turn.error, "llm_turns": 1}
    text = turn.ai.content if isinstance(turn.ai.content, str) else str(turn.ai.content)
    pred = parse_answer(text, config.static_style)
    recorder.emit(tr.PredictionEvent(step=1, **pred))
    return {"status": "prediction", "prediction": pred, "llm_turns": 1, "tokens": turn.tokens,
            "cost": turn.cost or 0.0, "cost_unknown": turn.cost is None, "model": turn.model}


def static_outcome(events: list) -> Optional[dict]:
    """A resumed static episode's outcome when its transcript already holds the answer (it was cut
    short while scoring), else None: the one question is asked again."""
    pred = next((e for e in events if isinstance(e, tr.PredictionEvent)), None)
    if pred is None:
        return None
    answers = [e for e in events if isinstance(e, tr.LLMResponse)]
    return {"status": "prediction", "llm_turns": len(answers),
            "prediction": {k: getattr(pred, k) for k in ("label", "description", "implementation", "confidence")},
            "tokens": sum(e.usage.input_tokens + e.usage.output_tokens for e in answers),
            "cost": sum(e.cost or 0.0 for e in answers), "cost_unknown": any(e.cost is None for e in answers)}
