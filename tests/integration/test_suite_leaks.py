"""No tool output names the task: every zoo task, every tool, both conditions with internals.

This runs in the normal suite (the `slow` mark only lets you deselect it with
`-m "not slow"`): compiling every task cold takes a few minutes, cached loads
are fast.
"""

from __future__ import annotations

import json
import random

import pytest

from tracr_agent.tools.subjects.leak import find_label_leaks, find_leaks, find_program_leaks
from tracr_agent.tools.protocol.hooks import standard_hooks
from tracr_agent.tools.suite import REGISTRY, ToolContext, call_tool, tool_names
from tracr_agent.tools.subjects.zoo import all_tasks

TASK_IDS = [t.id for t in all_tasks()]
GEN_IDS = [f"gen-0-{d}-0" for d in (1, 2, 3, 4)]
"""One generated task per difficulty: their program rendering and description must not leak either."""


def inputs_for(subject) -> tuple[list, list, list]:
    v, n = subject.vocab, subject.max_seq_len
    rng = random.Random(7)
    x1 = [v[i % len(v)] for i in range(n)]
    x2 = [rng.choice(v) for _ in range(max(1, n - 2))]
    x3 = [rng.choice(v) for _ in range(n)]
    return x1, x2, x3


def calls(subject, condition: str):
    """(tool, args) for every tool of the condition with valid arguments, plus some bad calls."""
    x1, x2, x3 = inputs_for(subject)
    names = tool_names(condition)
    comps = [f"{l}.{h}" for l, h in subject.nonempty_heads] + [f"{l}.mlp" for l in subject.nonempty_mlps]
    heads = list(subject.nonempty_heads)
    empty = [(l, h) for l in range(subject.n_layers) for h in range(subject.n_heads) if (l, h) not in heads]
    out = [("model_info", {}), ("list_hooks", {}), ("embeddings", {})]
    if "run_model" in names:
        out.append(("run_model", {"inputs": [x1, x2, x3]}))
    hooks = standard_hooks(subject.n_layers) + (["logits"] if condition != "whitebox" else [])
    out += [("get_activations", {"hook": h, "input": x1}) for h in hooks]
    # the machine-readable form (several hooks and inputs; residual hooks carry their column labels)
    out.append(("get_activations", {"hook": f"hook_embed,blocks.{subject.n_layers - 1}.hook_resid_post",
                                     "input": [x1, x2], "format": "json"}))
    out += [("attention_pattern", {"layer": l, "head": h, "input": x}) for l, h in heads + empty[:1] for x in (x1, x3)]
    out += [("decode_residual", {"input": x1, "layer": l, "where": w})
            for l in range(subject.n_layers) for w in ("pre", "mid", "post")]
    for c in comps:
        out.append(("ablate", {"components": [c], "inputs": [x1, x2]}))
        out.append(("patch", {"clean_input": x1, "corrupt_input": x3, "component": c}))
    out.append(("ablate", {"components": comps[:3] or ["0.0"], "inputs": [x1, x3], "mode": "mean"}))
    out.append(("patch", {"clean_input": x3, "corrupt_input": x1, "component": "blocks.0.hook_resid_post"}))
    final = f"blocks.{subject.n_layers - 1}.hook_resid_post"
    out += [("probe", {"hook": final, "property": p, "samples": 60}) for p in ("token", "position")]
    # the tools that read directions: a component's distinct writes, and projections onto them or a probe
    for c in comps[:3]:
        out.append(("component_writes", {"component": c, "samples": 60}))
        out.append(("project", {"input": x1, "component": c, "samples": 60}))
    out.append(("component_writes", {"component": comps[-1], "inputs": [x1, x2, x3], "positions": [0, 1]}))
    out.append(("project", {"input": x3, "probe": {"hook": final, "property": "token", "samples": 60},
                            "hook": "blocks.0.hook_resid_pre"}))
    out.append(("submit_prediction", {"label": "my guess", "description": "d", "implementation": "def f(t):\n    return t",
                                      "confidence": 0.5}))
    # errors are read by the agent too
    out += [
        ("run_model" if "run_model" in names else "decode_residual", {"inputs": [x1 * 3]}),
        ("decode_residual", {"input": x1 * 3, "layer": 0}),
        ("decode_residual", {"input": ["@@"], "layer": 0}),
        ("decode_residual", {"input": x1, "layer": 99}),
        ("get_activations", {"hook": "blocks.0.hook_resid_postt", "input": x1}),
        ("get_activations", {"hook": "logits", "input": x1}),
        ("attention_pattern", {"layer": 0, "head": 99, "input": x1}),
        ("ablate", {"components": ["x"], "inputs": [x1]}),
        ("patch", {"clean_input": x1, "corrupt_input": x2, "component": "0.0"}),
        ("component_writes", {"component": f"{subject.n_layers}.0"}),
        ("project", {"input": x1, "component": comps[0], "hook": "blocks.0.mlp.hook_post"}),
        ("project", {"input": x1}),
        ("run_modle", {}),
    ]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("residual", ["labelled", "raw"])
@pytest.mark.parametrize("task_id", TASK_IDS + GEN_IDS)
def test_no_tool_output_leaks_the_task(load, task_id, residual):
    """No tool names the task; in raw mode, none names a residual variable or marks the output.
    A generated task's program rendering and description appear nowhere either."""
    from tracr_agent.tools.subjects.tasks import get_task

    subject = load(task_id)
    task = get_task(task_id)
    seen = 0
    for condition in ("full", "whitebox"):
        ctx = ToolContext(condition=condition, residual=residual)
        for name, args in calls(subject, condition):
            r = call_tool(subject, name, args, ctx)
            assert "failed:" not in r.text, (name, args, r.text)
            assert find_leaks(r.text, subject.truth) == [], (condition, name, args, r.text)
            assert find_program_leaks(r.text, task) == [], (condition, name, args, r.text)
            if residual == "raw":
                assert find_label_leaks(r.text, subject) == [], (condition, name, args, r.text)
                assert "unembed reads" not in r.text, (condition, name, args, r.text)
            seen += 1
    assert seen > 40


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_tool_descriptions_and_schemas_do_not_leak(load, task_id):
    subject = load(task_id)
    tool_names("full")
    for spec in REGISTRY.values():
        text = spec.description + json.dumps(spec.args.model_json_schema())
        assert find_leaks(text, subject.truth) == [], spec.name


def test_program_leak_check_is_not_vacuous():
    """A generated task's rendering or description, pasted into a text, is caught."""
    from tracr_agent.tools.subjects.generate.ids import parse_id
    from tracr_agent.tools.subjects.generate.sampler import sample_program
    from tracr_agent.tools.subjects.generate.task import make_task
    from tracr_agent.tools.subjects.leak import program_texts

    task = make_task(parse_id("gen-0-3-0"), sample_program(0, 3, 0), {})
    texts = program_texts(task)
    assert len(texts) >= 5
    statement = task.extra["rendering"].splitlines()[2]
    assert find_program_leaks(f"tool output\n  {statement}\n", task) == [statement]
    sentence = task.description.splitlines()[1]
    assert find_program_leaks("the model: " + sentence, task) == [sentence]
    assert find_program_leaks("layers: 3   heads per layer: 1", task) == []


def test_leak_check_is_not_vacuous(reverse_subject):
    """The same checks do catch a leak, and a task's SOp names are among the terms."""
    assert find_leaks("this model computes reverse", reverse_subject.truth)
    assert find_leaks("the opp_idx variable", reverse_subject.truth)
