"""The whitebox condition: every internal tool, but never the model's decoded output.

For several tasks, the outputs run_model gives in `full` must not appear in
any whitebox tool's text for the same inputs; run_model and logits are
refused; and nothing says which residual variable the unembed reads.
"""

from __future__ import annotations

import itertools
import random

import pytest

from tracr_agent.tools.protocol.hooks import standard_hooks
from tracr_agent.tools.suite import ToolContext, call_tool, tool_names
from tracr_agent.tools.suite.outputs import format_output

WHITE = ToolContext(condition="whitebox")
TASKS = ["reverse", "sort", "hist", "frac_prevs", "length", "sort_unique"]


def chosen_inputs(subject, k: int = 3) -> list[list]:
    """k inputs of 3+ tokens whose formatted output is not also some input's formatting."""
    rng = random.Random(1)
    picked = []
    while len(picked) < k:
        n = rng.randint(3, subject.max_seq_len)
        x = [rng.choice(subject.vocab) for _ in range(n)]
        if x not in picked:
            picked.append(x)
    outs = [format_output(subject, y) for y in subject.run(picked)]
    from tracr_agent.tools.protocol.values import fmt_seq

    ins = {fmt_seq(x) for x in picked}
    distinct = [x for x, o in zip(picked, outs) if o not in ins]
    assert distinct, "every picked input's output equals some input: pick other tasks for this test"
    return distinct


def whitebox_calls(subject, inputs):
    heads = subject.nonempty_heads
    comps = [f"{l}.{h}" for l, h in heads] + [f"{l}.mlp" for l in subject.nonempty_mlps]
    out = [("model_info", {}), ("list_hooks", {}), ("embeddings", {})]
    for x in inputs:
        out += [("get_activations", {"hook": h, "input": x}) for h in standard_hooks(subject.n_layers)]
        out += [("attention_pattern", {"layer": l, "head": h, "input": x}) for l, h in heads]
        out += [("decode_residual", {"input": x, "layer": l, "where": w})
                for l in range(subject.n_layers) for w in ("pre", "mid", "post")]
    out += [("ablate", {"components": [c], "inputs": inputs, "mode": m}) for c in comps for m in ("zero", "mean")]
    for clean, corrupt in itertools.permutations(inputs, 2):
        if len(clean) == len(corrupt):
            out += [("patch", {"clean_input": clean, "corrupt_input": corrupt, "component": c}) for c in comps]
    return out


@pytest.mark.parametrize("task", TASKS)
def test_whitebox_never_shows_decoded_outputs(load, task):
    s = load(task)
    inputs = chosen_inputs(s)
    full = call_tool(s, "run_model", {"inputs": inputs}, ToolContext(condition="full"))
    assert not full.is_error
    outputs = [line.split(" -> ")[1] for line in full.text.split("\n")]
    assert len(outputs) == len(inputs)
    names = set(tool_names("whitebox"))
    for name, args in whitebox_calls(s, inputs):
        assert name in names
        r = call_tool(s, name, args, WHITE)
        assert not r.is_error, (name, args, r.text)
        for out in outputs:
            assert out not in r.text, (name, args, out, r.text)
        assert "unembed" not in r.text, (name, r.text)
        assert "before" not in r.text or name != "ablate"


@pytest.mark.parametrize("task", TASKS[:3])
def test_whitebox_refuses_outputs(load, task):
    s = load(task)
    assert "run_model" not in tool_names("whitebox")
    x = s.vocab[:2]
    r = call_tool(s, "run_model", {"inputs": [x]}, WHITE)
    assert r.is_error and "not available" in r.text
    r = call_tool(s, "get_activations", {"hook": "logits", "input": x}, WHITE)
    assert r.is_error and "not available" in r.text
    for comp in ("logits",):
        r = call_tool(s, "patch", {"clean_input": x, "corrupt_input": x, "component": comp}, WHITE)
        assert r.is_error
    info = call_tool(s, "model_info", {}, WHITE).text
    assert "unembed" not in info and s.output_variable not in info.split("residual stream variables")[0]
    assert "logits" not in call_tool(s, "list_hooks", {}, WHITE).text


def test_full_condition_does_mark_the_output_variable(load):
    """The contrast that makes the whitebox checks meaningful."""
    s = load("reverse")
    x = ["a", "b", "c"]
    text = call_tool(s, "decode_residual", {"input": x, "layer": 3}, ToolContext()).text
    assert text.endswith(f"the unembed reads {s.output_variable}")
    text = call_tool(s, "ablate", {"components": ["3.0"], "inputs": [x]}, ToolContext()).text
    assert '["c", "b", "a"]' in text
