"""Transformed subjects are leak-free: no tool output names the task, a residual variable, the transform
or its seed, and none shows the original residual basis — every tool, both conditions with internals,
in either residual mode (a transformed subject is raw in both).

The original basis is caught line by line: every line the untransformed subject's raw view prints
with residual values (`d3=1 d17=1` …) must be absent from the transformed subject's outputs.
"""

from __future__ import annotations

import re

import pytest
from test_suite_leaks import GEN_IDS, TASK_IDS, calls

from tracr_agent.tools.subjects.leak import find_label_leaks, find_leaks
from tracr_agent.tools.subjects.transforms import apply_transform
from tracr_agent.tools.suite import ToolContext, call_tool

TRANSFORM_WORDS = re.compile(r"rotat|compress|seed|privileged basis|original", re.IGNORECASE)
RESIDUAL_TOOLS = ("embeddings", "decode_residual", "patch", "component_writes", "project")
"""Tools whose every output line is about the residual stream (get_activations: by hook, below)."""
BASIS_FREE_HOOKS = ("hook_pattern", "hook_attn_scores", "mlp.hook_pre", "mlp.hook_post", "logits")
"""Hooks a change of residual and head basis leaves as they are: attention and MLP neurons."""


def _shows_residual(name: str, args: dict) -> bool:
    if name in RESIDUAL_TOOLS:
        return True
    return name == "get_activations" and not any(h in str(args.get("hook", "")) for h in BASIS_FREE_HOOKS)


def _basis_lines(text: str) -> set[str]:
    """The lines of a residual output that carry values of named dims (`… d3=1 d17=0.5`)."""
    return {" ".join(ln.split()) for ln in text.splitlines() if re.search(r"\bd\d+=", ln)}


def assert_leak_free(original, transformed, task_id):
    seen = 0
    for condition in ("full", "whitebox"):
        for residual in ("labelled", "raw"):
            ctx = ToolContext(condition=condition, residual=residual)
            for name, args in calls(transformed, condition):
                text = call_tool(transformed, name, args, ctx).text
                where = (task_id, condition, residual, name, args, text[:600])
                assert "failed:" not in text, where
                assert find_leaks(text, transformed.truth) == [], where
                assert find_label_leaks(text, transformed) == [], where
                assert "unembed reads" not in text, where
                assert not TRANSFORM_WORDS.search(text), where
                if _shows_residual(name, args):
                    before = call_tool(original, name, args, ToolContext(condition=condition, residual="raw")).text
                    lines = _basis_lines(before)
                    assert not lines & _basis_lines(text), where
                seen += 1
    info = call_tool(transformed, "model_info", {}, ToolContext(condition="full")).text
    assert f"{transformed.d_model} dims d0..d{transformed.d_model - 1}; residual basis: not privileged" in info
    assert "variables" not in info
    assert seen > 150


@pytest.mark.parametrize("task_id", ["reverse", "frac_prevs"])
def test_rotated_subject_leaks_nothing(load, task_id):
    original = load(task_id)
    assert_leak_free(original, apply_transform(original, "rotated:11"), task_id)


def test_compressed_subject_leaks_nothing(load, tmp_path, monkeypatch):
    original = load("identity_map")
    monkeypatch.setenv("TRACR_AGENT_CACHE", str(tmp_path))
    assert_leak_free(original, apply_transform(original, "compressed:6"), "identity_map")


def test_basis_check_is_not_vacuous(reverse_subject):
    """The untransformed subject's raw residual outputs do carry basis lines, and its labelled outputs
    name variables: the same checks would catch them."""
    s = reverse_subject
    x = s.vocab[:3]
    raw = call_tool(s, "decode_residual", {"input": x, "layer": 1}, ToolContext(residual="raw")).text
    assert len(_basis_lines(raw)) == len(x) + 1
    labelled = call_tool(s, "decode_residual", {"input": x, "layer": 1}, ToolContext()).text
    assert find_label_leaks(labelled, s)
    rotated = apply_transform(s, "rotated")
    assert find_label_leaks(labelled, rotated)  # the original's labels are still what is looked for


@pytest.mark.slow
@pytest.mark.parametrize("task_id", [t for t in TASK_IDS + GEN_IDS if t not in ("reverse", "frac_prevs")])
def test_rotated_zoo_and_generated_subjects_leak_nothing(load, task_id):
    original = load(task_id)
    assert_leak_free(original, apply_transform(original, "rotated"), task_id)


@pytest.mark.parametrize("residual", ["labelled", "raw"])
def test_static_dump_of_a_transformed_subject_is_in_a_basis_nobody_chose(reverse_subject, residual):
    """The static condition on a rotated subject: the same attention patterns (a change of basis leaves them
    as they are), the positional embedding in the rotated basis — no label, no line of the original's."""
    from tracr_agent.agent.investigators.static import static_dump, static_prompt

    rotated = apply_transform(reverse_subject, "rotated:7")
    text, _ = static_dump(rotated, "static", residual=residual)
    before, _ = static_dump(reverse_subject, "static", residual="raw")
    assert text.count("== blocks.") == rotated.n_layers and "== hook_pos_embed ==" in text
    assert find_label_leaks(text, rotated) == [] and not TRANSFORM_WORDS.search(text)
    assert not _basis_lines(before) & _basis_lines(text)
    patterns = [part for part in text.split("== ") if "hook_pattern" in part]
    assert patterns == [part for part in before.split("== ") if "hook_pattern" in part]
    prompt = static_prompt(rotated, "static+io", residual=residual)
    assert find_label_leaks(prompt, rotated) == [] and find_leaks(prompt, rotated.truth) == []


def test_the_system_prompt_of_a_transformed_subject_describes_no_one_hot_blocks(reverse_subject):
    """The prompt says what model_info says — variables are directions, the basis is not privileged — in
    either residual mode, and lists the tools that read directions."""
    from tracr_agent.agent.loop.prompts import system_prompt

    rotated = apply_transform(reverse_subject, "rotated:7")
    for residual in ("labelled", "raw"):
        prompt = system_prompt("whitebox", rotated, residual=residual)
        about, tools = prompt.split("## Tools", 1)  # the tools' own descriptions state their general behaviour
        assert "one-hot" not in about and "neutral names" not in about and "basis is not privileged" in about
        assert "- component_writes: " in tools and "- project: " in tools and "- probe: " in tools
        assert find_label_leaks(prompt, rotated) == [] and not re.search(r"rotat|compress|seed", prompt)
    assert "one-hot" in system_prompt("whitebox", reverse_subject)
