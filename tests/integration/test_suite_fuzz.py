"""Fuzzing call_tool: whatever an LLM sends, the loop gets text back, never an exception.

Malformed calls (unknown or misspelt tools, wrong types, out-of-range layers and
heads, unknown tokens, too-long inputs, non-JSON argument strings) must come
back as `is_error=True` text starting with `error:` that says what is wrong;
odd but valid calls must simply work. No call may surface an internal failure
(`<tool> failed: SomeException`), which would mean a bug in a tool.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracr_agent.tools.protocol.hooks import hook_kind, standard_hooks
from tracr_agent.tools.suite import ToolContext, call_tool, tool_names

SUBJECTS = ["reverse", "sort"]
CONDITIONS = ["full", "whitebox", "blackbox"]
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module", params=SUBJECTS)
def subject(request, load):
    return load(request.param)


def check(result, name) -> None:
    assert isinstance(result.text, str) and result.text
    if result.is_error:
        assert result.text.startswith("error:"), result.text
    assert f"{name} failed:" not in result.text, result.text  # an unexpected exception: a tool bug


def names() -> st.SearchStrategy:
    real = tool_names("full")

    def typo(n: str):
        return st.integers(0, len(n) - 1).map(lambda i: n[:i] + n[i + 1:]) | st.just(n.upper()) | st.just(n + "s")

    return st.sampled_from(real) | st.sampled_from(real).flatmap(typo) | st.text(max_size=12) | st.none() | st.integers()


junk = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(name=names(), args=junk | st.text(max_size=30) | st.dictionaries(st.text(max_size=10), junk, max_size=4),
       condition=st.sampled_from(CONDITIONS))
@FUZZ
def test_random_calls_never_raise(subject, name, args, condition):
    r = call_tool(subject, name, args, ToolContext(condition=condition))
    check(r, name)
    if not isinstance(name, str) or name not in tool_names(condition):
        assert r.is_error


@given(data=st.data())
@FUZZ
def test_non_json_argument_strings(subject, data):
    name = data.draw(st.sampled_from(tool_names("full")))
    text = data.draw(st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and not _is_json(s)))
    r = call_tool(subject, name, text, ToolContext())
    check(r, name)
    assert r.is_error and "not valid JSON" in r.text


def _is_json(s: str) -> bool:
    try:
        json.loads(s)
        return True
    except ValueError:
        return False


def valid_args(subject, name, condition):
    """Well-formed argument dicts: the tool must answer them without error."""
    n_tok = st.integers(1, subject.max_seq_len)
    inp = n_tok.flatmap(lambda n: st.lists(st.sampled_from(subject.vocab), min_size=n, max_size=n))
    layer = st.integers(0, subject.n_layers - 1)
    head = st.integers(0, subject.n_heads - 1)
    hooks = [h for h in standard_hooks(subject.n_layers)] + (["logits"] if condition != "whitebox" else [])
    comps = ([f"{l}.{h}" for l in range(subject.n_layers) for h in range(subject.n_heads)]
             + [f"{l}.mlp" for l in range(subject.n_layers)] + [f"{l}.attn" for l in range(subject.n_layers)])
    pair = n_tok.flatmap(lambda n: st.tuples(*[st.lists(st.sampled_from(subject.vocab), min_size=n, max_size=n)] * 2))
    live = [f"{l}.{h}" for l, h in subject.nonempty_heads] + [f"{l}.mlp" for l in subject.nonempty_mlps]
    resid_hooks = [h for h in hooks if hook_kind(h) == "resid"]
    samples = st.integers(20, 80)

    def act(hook):
        has_head = any(k in hook for k in ("hook_q", "hook_k", "hook_v", "hook_z", "hook_attn_scores", "hook_pattern"))
        return st.fixed_dictionaries(
            {"hook": st.just(hook), "input": inp},
            optional={"head": head if has_head else st.none(),
                      "positions": st.none() | st.lists(st.integers(0, 1), min_size=1, max_size=2)})

    return {
        "get_activations": st.sampled_from(hooks).flatmap(act),
        "attention_pattern": st.fixed_dictionaries({"layer": layer, "head": head, "input": inp}),
        "decode_residual": st.fixed_dictionaries({"input": inp, "layer": layer},
                                                 optional={"where": st.sampled_from(["pre", "mid", "post"])}),
        "ablate": st.fixed_dictionaries({"components": st.lists(st.sampled_from(comps), min_size=1, max_size=3),
                                         "inputs": st.lists(inp, min_size=1, max_size=3)},
                                        optional={"mode": st.sampled_from(["zero", "mean"])}),
        "patch": st.tuples(pair, st.sampled_from(comps + [h for h in standard_hooks(subject.n_layers)
                                                          if not h.endswith("attn_scores")])).map(
            lambda t: {"clean_input": t[0][0], "corrupt_input": t[0][1], "component": t[1]}),
        "run_model": st.fixed_dictionaries({"inputs": st.lists(inp, min_size=1, max_size=3)}),
        "probe": st.fixed_dictionaries(
            {"hook": st.sampled_from([h for h in hooks if not h.endswith(("attn_scores", "hook_pattern"))]),
             "property": st.sampled_from(["token", "position"])},
            optional={"positions": st.lists(st.integers(1, subject.max_seq_len), min_size=1, max_size=3),
                      "samples": st.integers(20, 80), "kind": st.sampled_from(["auto", "categorical"])}),
        "component_writes": st.fixed_dictionaries(
            {"component": st.sampled_from(comps)},
            optional={"samples": samples,
                      "positions": st.lists(st.integers(0, subject.max_seq_len), min_size=1, max_size=3)})
        | st.fixed_dictionaries({"component": st.sampled_from(comps), "inputs": st.lists(inp, min_size=1, max_size=3)}),
        "project": st.fixed_dictionaries({"input": inp, "component": st.sampled_from(live)},
                                         optional={"hook": st.sampled_from(resid_hooks), "samples": samples})
        | st.fixed_dictionaries({"input": inp, "probe": st.fixed_dictionaries(
            {"hook": st.sampled_from(resid_hooks), "property": st.sampled_from(["token", "position"]),
             "samples": samples})}, optional={"hook": st.sampled_from(resid_hooks)}),
        "submit_prediction": st.fixed_dictionaries({
            "label": st.text(min_size=1, max_size=10).filter(str.strip), "description": st.text(max_size=10),
            "implementation": st.just("def f(tokens):\n    return tokens"), "confidence": st.floats(0, 1)}),
    }.get(name, st.just({}))


def bad_value(subject):
    too_long = [subject.vocab[0]] * (subject.max_seq_len + 1 + 3)
    return (junk | st.integers(-5, -1) | st.integers(subject.n_layers, subject.n_layers + 5)
            | st.sampled_from([too_long, [too_long], ["zz"], [["zz"]], [], [[]], "blocks.9.hook_z", "hook_embd",
                               "9.0", "0.9", "mlp", "L.H", ""]))


def mutate(subject, args: dict):
    """0-2 mutations: drop a field, put a wrong value in one, or add an unknown one."""
    keys = sorted(args)
    one = st.one_of(
        st.tuples(st.just("drop"), st.sampled_from(keys) if keys else st.just(None), st.none()),
        st.tuples(st.just("bad"), st.sampled_from(keys) if keys else st.just(None), bad_value(subject)),
        st.tuples(st.just("extra"), st.sampled_from(["extra", "layers", "inputs_", "Input"]), junk),
    )

    def apply(ops):
        out = dict(args)
        for op, key, value in ops:
            if key is None:
                continue
            if op == "drop":
                out.pop(key, None)
            else:
                out[key] = value
        return out, len(ops)

    return st.lists(one, max_size=2).map(apply)


@given(data=st.data())
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_structured_calls(subject, data):
    condition = data.draw(st.sampled_from(["full", "whitebox"]))
    name = data.draw(st.sampled_from(tool_names(condition)))
    args, n_mutations = data.draw(valid_args(subject, name, condition).flatmap(lambda a: mutate(subject, a)))
    r = call_tool(subject, name, args, ToolContext(condition=condition))
    check(r, name)
    if n_mutations == 0:
        assert not r.is_error, (args, r.text)


@pytest.mark.parametrize("name,args,expect", [
    ("attention_pattern", {"layer": 99, "head": 0, "input": ["x"]}, "layers are 0.."),
    ("attention_pattern", {"layer": 0, "head": 99, "input": [1]}, "heads are 0.."),
    ("get_activations", {"hook": "blocks.0.attn.hook_pattrn", "input": [1]}, "Did you mean blocks.0.attn.hook_pattern"),
    ("get_activations", {"hook": "hook_embed", "input": "not a list of tokens at all"}, "error:"),
    ("run_model", {"inputs": [[1] * 40]}, "maximum is 5"),
    ("run_model", {"inputs": [["nope"]]}, "not in the vocab"),
    ("decode_residual", {"input": [], "layer": 0}, "at least one token"),
    ("ablate", {"components": "0.0", "inputs": [[1]]}, "components: Input should be a valid list"),
    ("patch", {"clean_input": [1], "corrupt_input": [1, 2], "component": "0.0"}, "error:"),
    ("run_modle", {}, "Did you mean run_model"),
])
def test_specific_malformed_calls(sort_subject, name, args, expect):
    r = call_tool(sort_subject, name, args, ToolContext())
    check(r, name)
    assert r.is_error and expect in r.text, r.text


@pytest.mark.parametrize("token", [[], ["a"], {"a": 1}])
def test_a_nested_token_is_a_bad_input_not_a_failure(reverse_subject, token):
    """Found by the fuzzing above: a list or object where a token goes is the caller's mistake, said in
    one line, not a tool failure."""
    res = call_tool(reverse_subject, "decode_residual", {"input": [token], "layer": 0}, ToolContext())
    assert res.is_error and res.text.startswith("error: token ") and "failed" not in res.text
