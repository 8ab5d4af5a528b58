"""The probe tool: it recovers variables the program is known to compute, where they are written, in
any residual basis, and it rejects properties the hook does not hold; bad calls are one error line."""

from __future__ import annotations

import re

import pytest

from tracr_agent.tools.subjects.leak import find_label_leaks, find_leaks
from tracr_agent.tools.subjects.transforms import apply_transform
from tracr_agent.tools.suite import ToolContext, call_tool

WHITEBOX = ToolContext(condition="whitebox")


def _probe(subject, **args) -> str:
    r = call_tool(subject, "probe", args, WHITEBOX)
    assert not r.is_error, r.text
    return r.text


def _accuracy(text: str) -> float:
    return float(re.search(r"held-out accuracy ([\d.]+)%", text).group(1))


@pytest.mark.parametrize("transform", [None, "rotated:4"])
def test_probe_recovers_what_reverse_computes_where_it_is_written(reverse_subject, transform):
    """reverse: the token is readable from the start (3 directions for 4 values), the reversed token
    — the output variable — only at the end, in tracr's basis and in a rotated one alike."""
    s = reverse_subject if transform is None else apply_transform(reverse_subject, transform)
    token = _probe(s, hook="blocks.0.hook_resid_pre", property="token")
    assert _accuracy(token) == 100.0 and "directions needed: 3 of 43" in token
    assert token.endswith("verdict: linearly readable here")
    mirrored = "tokens[len(tokens) - 1 - i]"
    late = _probe(s, hook=f"blocks.{s.n_layers - 1}.hook_resid_post", property=mirrored)
    assert _accuracy(late) == 100.0 and "verdict: linearly readable here" in late
    early = _probe(s, hook="blocks.0.hook_resid_pre", property=mirrored)
    assert _accuracy(early) < 60 and early.endswith("verdict: not linearly readable here (held-out accuracy below 95%)")
    assert "directions needed" not in early


def test_probe_rejects_what_a_hook_does_not_hold(reverse_subject):
    """The token embedding holds no position, the positional embedding no token."""
    s = reverse_subject
    assert "not linearly readable" in _probe(s, hook="hook_embed", property="position")
    assert _accuracy(_probe(s, hook="hook_pos_embed", property="position")) == 100.0
    assert "not linearly readable" in _probe(s, hook="hook_pos_embed", property="token")


def test_probe_fits_a_numerical_property(load):
    """frac_prevs: the running fraction of 'x' is written as one number: R² 1 with one direction at the
    end, and the positions asked for are the only ones read."""
    s = load("frac_prevs")
    text = _probe(s, hook=f"blocks.{s.n_layers - 1}.hook_resid_post", property="tokens[:i+1].count('x') / (i+1)",
                  positions=[2, 3, 4, 5, 6])
    assert "(numerical)" in text and "positions 2, 3, 4, 5, 6" in text
    assert float(re.search(r"held-out R² ([-\d.]+)", text).group(1)) > 0.999
    assert "directions needed: 1 of" in text
    absent = _probe(s, hook="hook_embed", property="tokens[:i+1].count('x') / (i+1)", positions=[3, 4, 5, 6])
    assert "not linearly readable here (held-out R² below 0.95)" in absent


@pytest.mark.parametrize("args, message", [
    ({"hook": "blocks.0.attn.hook_pattern", "property": "token"}, "holds one row per query and key"),
    ({"hook": "blocks.0.hook_resid_prex", "property": "token"}, "unknown hook"),
    ({"hook": "logits", "property": "token"}, "logits are not available in this session"),
    ({"hook": "hook_embed", "property": "tokens["}, "property must be 'token', 'position' or a Python expression"),
    ({"hook": "hook_embed", "property": "tokens[i+1]"}, "the property expression failed: f raised IndexError"),
    ({"hook": "hook_embed", "property": "token", "positions": [0]}, "positions must be some of 1..5"),
    ({"hook": "hook_embed", "property": "token", "kind": "numerical"}, "kind 'numerical' needs a property whose"),
    ({"hook": "hook_embed", "property": "len(tokens) * 0"}, "the property has one value on every sampled position"),
])
def test_bad_probe_is_one_line(reverse_subject, args, message):
    r = call_tool(reverse_subject, "probe", args, WHITEBOX)
    assert message in r.text and "\n" not in r.text, r.text


def test_probe_output_names_no_variable(reverse_subject):
    """In raw mode, and on a rotated subject, the probe names no residual variable and not the task."""
    s = reverse_subject
    for subject, ctx in ((s, ToolContext(condition="whitebox", residual="raw")), (apply_transform(s, "rotated"), WHITEBOX)):
        for prop in ("token", "position", "tokens[len(tokens) - 1 - i]"):
            text = call_tool(subject, "probe", {"hook": "blocks.2.hook_resid_mid", "property": prop}, ctx).text
            assert find_label_leaks(text, subject) == [] and find_leaks(text, subject.truth) == [], text
