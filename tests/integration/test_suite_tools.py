"""The interpretability tools on real compiled subjects: what they say, not just that they run."""

from __future__ import annotations

import re

import pytest

from tracr_agent.tools.suite import ToolContext, call_tool
from tracr_agent.tools.protocol.attention import describe_pattern

FULL = ToolContext(condition="full")
WHITE = ToolContext(condition="whitebox")


def ok(subject, name, args=None, ctx=FULL) -> str:
    r = call_tool(subject, name, args or {}, ctx)
    assert not r.is_error, r.text
    return r.text


def err(subject, name, args=None, ctx=FULL) -> str:
    r = call_tool(subject, name, args or {}, ctx)
    assert r.is_error and r.text.startswith("error:"), r.text
    return r.text


def pattern_descriptions(subject, tokens) -> dict:
    """(layer, head) -> first line of attention_pattern."""
    return {(l, h): ok(subject, "attention_pattern", {"layer": l, "head": h, "input": tokens}).split("\n")[0]
            for l, h in subject.nonempty_heads}


def unembed_var(subject) -> str:
    m = re.search(r"the unembed reads variable (\S+)", ok(subject, "model_info"))
    return m.group(1)


# -- model_info, list_hooks, run_model -------------------------------------------------------


@pytest.mark.parametrize("task", ["reverse", "sort", "length"])
def test_model_info_lists_nonempty_heads(load, task):
    s = load(task)
    text = ok(s, "model_info")
    heads = ", ".join(f"{l}.{h}" for l, h in s.nonempty_heads)
    assert f"non-empty attention heads: {heads}" in text
    assert f"layers: {s.n_layers}" in text
    assert "the unembed reads variable" not in ok(s, "model_info", ctx=WHITE)


def test_list_hooks_names_readable_hooks(load):
    s = load("sort")
    text = ok(s, "list_hooks")
    assert "blocks.0:" in text and "attn.hook_pattern" in text and "logits" in text
    assert "logits" not in ok(s, "list_hooks", ctx=WHITE)


def test_run_model_reverses(reverse_subject):
    text = ok(reverse_subject, "run_model", {"inputs": [["a", "b", "c"], ["d", "a"]]})
    assert text.split("\n") == ['["a", "b", "c"] -> ["c", "b", "a"]', '["d", "a"] -> ["a", "d"]']


# -- get_activations --------------------------------------------------------------------------


@pytest.mark.parametrize("task,tokens", [("reverse", ["a", "b", "c"]), ("sort", [3, 1, 2]), ("length", ["c", "a"])])
def test_get_activations_labels_rows_with_tokens(load, task, tokens):
    s = load(task)
    text = ok(s, "get_activations", {"hook": "hook_embed", "input": tokens})
    rows = text.split("\n")[1:]
    assert [r.split("  ")[0].strip() for r in rows] == [f"{i} {t}" for i, t in enumerate(["BOS", *tokens])]
    # the token embedding writes the token's own dimension, by residual name
    for row, t in zip(rows[1:], tokens):
        assert f"tokens:{t}=1" in row


def test_get_activations_pattern_table_and_filters(reverse_subject):
    s = reverse_subject
    text = ok(s, "get_activations", {"hook": "blocks.3.attn.hook_pattern", "input": ["a", "b", "c"], "head": 0,
                                     "positions": [1, 3]})
    lines = text.split("\n")
    assert lines[1] == "head 0:"
    assert lines[2].split() == ["query\\key", "0", "BOS", "1", "a", "2", "b", "3", "c"]
    assert lines[3].split() == ["1", "a", "0", "0", "0", "1"]  # query 1 reads the last key
    assert lines[4].split() == ["3", "c", "0", "1", "0", "0"]
    assert len(lines) == 5


def test_get_activations_summarizes_mlp_and_marks_empty(reverse_subject):
    s = reverse_subject
    text = ok(s, "get_activations", {"hook": "blocks.1.mlp.hook_post", "input": ["a", "b", "c"]})
    assert f"{s.d_mlp} neurons" in text and "non-zero columns" in text
    empty_layer = next(l for l in range(s.n_layers) if l not in s.nonempty_mlps)
    text = ok(s, "get_activations", {"hook": f"blocks.{empty_layer}.mlp.hook_post", "input": ["a"]})
    assert "MLP is empty" in text and "are 0" in text
    empty_head = next((l, h) for l in range(s.n_layers) for h in range(s.n_heads) if (l, h) not in s.nonempty_heads)
    text = ok(s, "get_activations", {"hook": f"blocks.{empty_head[0]}.attn.hook_z", "input": ["a"]})
    assert "empty head" in text


def test_get_activations_residual_uses_neutral_labels(length_subject):
    s = length_subject
    text = ok(s, "get_activations", {"hook": "blocks.0.hook_resid_post", "input": ["a", "b"]})
    assert "indices:0=1" in text and "one=1" in text
    assert re.search(r"\bv1:2=1\b", text)  # the output variable at value 2 (two tokens), unmarked


def test_get_activations_logits_only_with_outputs(sort_subject):
    s = sort_subject
    text = ok(s, "get_activations", {"hook": "logits", "input": [2, 1]})
    assert text.split("\n")[1].split() == ["pos", "1", "2", "3", "4"]
    assert "not available" in err(s, "get_activations", {"hook": "logits", "input": [2, 1]}, WHITE)


def test_get_activations_errors_are_actionable(sort_subject):
    s = sort_subject
    assert "blocks.0.attn.hook_pattern" in err(s, "get_activations", {"hook": "blocks.0.attn.hook_patern", "input": [1]})
    assert "layers are 0..2" in err(s, "get_activations", {"hook": "blocks.7.hook_resid_post", "input": [1]})
    assert "head= applies only" in err(s, "get_activations", {"hook": "hook_embed", "input": [1], "head": 0})
    assert "heads are 0..0" in err(s, "get_activations", {"hook": "blocks.0.attn.hook_z", "input": [1], "head": 2})
    assert "positions 0..2" in err(s, "get_activations", {"hook": "hook_embed", "input": [1, 2], "positions": [5]})
    assert "not in the vocab" in err(s, "get_activations", {"hook": "hook_embed", "input": [9]})
    for nested in ([[]], [[1]], [{"a": 1}], [None]):  # not a token, and not hashable: still one clear line
        assert "is not in the vocab" in err(s, "decode_residual", {"input": nested, "layer": 0})
    assert "maximum is 5" in err(s, "get_activations", {"hook": "hook_embed", "input": [1] * 6})


# -- attention_pattern ------------------------------------------------------------------------


def test_reverse_has_an_anti_diagonal_head(reverse_subject):
    descs = pattern_descriptions(reverse_subject, ["a", "b", "c", "d"])
    assert any("anti-diagonal" in d for d in descs.values()), descs
    assert not any("revers" in d.lower() for d in descs.values())


def test_hist_attends_to_same_token(load):
    descs = pattern_descriptions(load("hist"), ["a", "c", "a", "b"])
    assert any("same token" in d for d in descs.values()), descs


def test_frac_prevs_attends_to_prefix(load):
    descs = pattern_descriptions(load("frac_prevs"), ["x", "y", "x", "z"])
    assert any("keys <= i (prefix)" in d for d in descs.values()), descs


def test_sort_moves_tokens_with_a_one_hot_head(sort_subject):
    descs = pattern_descriptions(sort_subject, [3, 1, 4, 2])
    assert "query->key: 1->2, 2->4, 3->1, 4->3" in descs[(2, 0)]  # sorted order of keys


def test_length_attends_uniformly(length_subject):
    (d,) = pattern_descriptions(length_subject, ["a", "b", "c"]).values()
    assert "uniformly to all keys" in d and "BOS gets an equal share" in d


def test_attention_pattern_empty_head_and_ranges(reverse_subject):
    s = reverse_subject
    assert "is empty (all-zero weights)" in ok(s, "attention_pattern", {"layer": 1, "head": 0, "input": ["a"]})
    assert "layers are 0..3" in err(s, "attention_pattern", {"layer": 4, "head": 0, "input": ["a"]})
    assert "heads are 0..0" in err(s, "attention_pattern", {"layer": 0, "head": 1, "input": ["a"]})


@pytest.mark.parametrize("rows,toks,expected", [
    ([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], ["B", 1, 2, 3], "key i-1 (the previous position)"),
    ([[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], ["B", 1, 2, 3], "all queries attend to BOS"),
    ([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0]], ["B", 1, 2, 3], "key i+1, wrapping around"),
    ([[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]], ["B", 1, 2, 3], "key i-1, wrapping around"),
    ([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0]], ["B", 1, 2, 3], "one key per query, query->key: 1->2, 2->1, 3->1"),
    ([[1, 0, 0, 0], [0, .25, .25, .5], [0, .5, .5, 0], [.3, .3, .3, .1]], ["B", 1, 2, 3], "mixed weights"),
    ([[1, 0, 0, 0]] + [[0, 1 / 3, 1 / 3, 1 / 3]] * 3, ["B", 1, 2, 3], "uniformly to all keys"),
    ([[1, 0, 0, 0], [.5, .5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0], [.5, 0, 0, .5]], ["B", 1, 1, 2],
     "the keys <= i holding the same token as the query; BOS gets an equal share"),
    ([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], ["B", 1, 1, 2],
     "each query attends to the keys < i holding the same token as the query; queries with no such key attend to BOS"),
    ([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, .5, .5, 0]], ["B", 1, 2, 3],
     "keys < i; queries with no such key attend to BOS"),
])
def test_describe_pattern_families(rows, toks, expected):
    assert expected in describe_pattern(rows[: len(toks)], toks)


def test_every_rule_a_pattern_fits_is_listed_with_a_warning():
    prefix = [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, .5, .5, 0]]
    # on a sorted input "keys < i" and "token <" select the same keys: both are named, and the ambiguity said
    text = describe_pattern(prefix, ["B", 1, 2, 3])
    assert text.startswith("3 rules fit this pattern on this input, which cannot tell them apart")
    assert "(token, position) is < the query's" in text
    assert "each query attends uniformly to keys < i" in text
    assert "each query attends uniformly to the keys whose token is < the query's token" in text
    # on an unsorted one the same weights fit only the positional rule
    assert describe_pattern(prefix, ["B", 3, 1, 2]).startswith("each query attends uniformly to keys < i")
    # two tokens: the previous position, the wrap-around and the anti-diagonal coincide
    two = describe_pattern([[1, 0, 0], [0, 0, 1], [0, 1, 0]], ["B", "a", "b"])
    assert "anti-diagonal" in two and "wrapping around" in two and "rules fit" in two
    # a pattern no rule fits is written out, with no warning
    assert describe_pattern([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0]], ["B", 1, 2, 3]) == \
        "one key per query, query->key: 1->2, 2->1, 3->1"


# -- ablate -----------------------------------------------------------------------------------


def test_ablating_the_token_moving_head_in_sort_changes_the_output(sort_subject):
    s = sort_subject
    text = ok(s, "ablate", {"components": ["2.0"], "inputs": [[3, 1, 2], [4, 4, 1, 2]]})
    lines = text.split("\n")
    assert lines[0] == "zero-ablating 2.0:"
    assert lines[1] == "[3, 1, 2]: before [1, 2, 3]  after [-, -, -]  changed at positions 1, 2, 3"
    assert lines[2].startswith("[4, 4, 1, 2]: before [1, 2, 4, 4]") and lines[2].endswith("positions 1, 2, 3, 4")
    text = ok(s, "ablate", {"components": ["2.0"], "inputs": [[3, 1, 2]], "mode": "mean"})
    assert "mean-ablating 2.0" in text and "changed at positions" in text


def test_ablating_an_empty_head_changes_nothing(reverse_subject):
    text = ok(reverse_subject, "ablate", {"components": ["1.0"], "inputs": [["a", "b"]]})
    assert "empty (all-zero weights)" in text and text.endswith("unchanged")


def test_ablate_whitebox_reports_residual_variables(sort_subject):
    s = sort_subject
    text = ok(s, "ablate", {"components": ["2.0"], "inputs": [[3, 1, 2]]}, WHITE)
    assert "before" not in text and "after" not in text
    assert "final residual |change| per position: 0:0 1:1 2:1 3:1" in text
    out_var = s.output_variable
    assert re.search(rf"1 3 +{out_var}: 1 -> -", text), text


def test_ablate_errors(reverse_subject):
    s = reverse_subject
    assert "'L.H'" in err(s, "ablate", {"components": ["head3"], "inputs": [["a"]]})
    assert "layers are 0..3" in err(s, "ablate", {"components": ["9.mlp"], "inputs": [["a"]]})
    assert "heads are 0..0" in err(s, "ablate", {"components": ["0.3"], "inputs": [["a"]]})
    assert "at least one component" in err(s, "ablate", {"components": [], "inputs": [["a"]]})


@pytest.mark.parametrize("task,component,tokens", [("length", "0.mlp", ["a", "b"]), ("frac_prevs", "1.0", ["x", "y"])])
def test_ablate_other_tasks(load, task, component, tokens):
    text = ok(load(task), "ablate", {"components": [component], "inputs": [tokens]})
    assert "changed at positions 1, 2" in text


# -- patch ------------------------------------------------------------------------------------


def test_patch_moves_the_output_at_the_right_positions(reverse_subject):
    s = reverse_subject
    text = ok(s, "patch", {"clean_input": ["a", "b", "c"], "corrupt_input": ["a", "b", "d"], "component": "3.0"})
    assert text.split("\n") == [
        'clean   ["a", "b", "c"] -> ["c", "b", "a"]',
        'corrupt ["a", "b", "d"] -> ["d", "b", "a"]',
        'patched (corrupt run with 3.0 taken from the clean run) -> ["c", "b", "a"]',
        "patched differs from corrupt at positions 1 (d -> c); it now equals the clean output",
    ]


def test_patch_hook_and_no_effect(sort_subject):
    s = sort_subject
    text = ok(s, "patch", {"clean_input": [1, 2, 3], "corrupt_input": [3, 2, 4],
                           "component": "blocks.0.hook_resid_post"})
    assert "it now equals the clean output" in text
    text = ok(s, "patch", {"clean_input": [1, 2, 3], "corrupt_input": [3, 2, 4], "component": "0.0"})
    assert "no effect" in text


def test_patch_whitebox_reports_variables_at_the_right_position(reverse_subject):
    s = reverse_subject
    text = ok(s, "patch", {"clean_input": ["a", "b", "c"], "corrupt_input": ["a", "b", "d"], "component": "3.0"}, WHITE)
    changed = [l for l in text.split("\n") if re.match(r"  \d ", l)]
    assert len(changed) == 1 and changed[0].split()[:2] == ["1", "a"]
    assert f"{s.output_variable}: d -> c [clean c]" in changed[0]
    assert "->" in text and '["c", "b", "a"]' not in text


def test_patch_errors(reverse_subject):
    s = reverse_subject
    assert "same number of tokens" in err(s, "patch", {"clean_input": ["a"], "corrupt_input": ["a", "b"], "component": "3.0"})
    assert "hook_pattern" in err(s, "patch", {"clean_input": ["a"], "corrupt_input": ["b"],
                                              "component": "blocks.3.attn.hook_attn_scores"})
    assert "Did you mean" in err(s, "patch", {"clean_input": ["a"], "corrupt_input": ["b"],
                                              "component": "blocks.3.hook_resid_postt"})


# -- decode_residual, embeddings --------------------------------------------------------------


def test_decode_residual_length_holds_the_length_everywhere(length_subject):
    s = length_subject
    var = unembed_var(s)
    for tokens in (["a", "b", "c"], ["c"], ["a", "a", "b", "b", "c"]):
        text = ok(s, "decode_residual", {"input": tokens, "layer": s.n_layers - 1})
        rows = text.split("\n")[1: len(tokens) + 2]
        assert f"{var}=-" in rows[0]  # BOS holds no value
        for row in rows[1:]:
            assert f" {var}={len(tokens)} " in row + " "
        assert text.endswith(f"the unembed reads {var}")
        assert "unembed" not in ok(s, "decode_residual", {"input": tokens, "layer": 0}, WHITE)


def test_decode_residual_pre_mid_post(reverse_subject):
    s = reverse_subject
    pre = ok(s, "decode_residual", {"input": ["a", "b", "c"], "layer": 0, "where": "pre"})
    assert pre.split("\n")[2].split() == ["1", "a", "tokens=a", "indices=0", "one=1", "v1=-", "v1.sw=0", "v2=-",
                                          "v3=-", "v4=-"]
    post = ok(s, "decode_residual", {"input": ["a", "b", "c"], "layer": 3})
    assert "v4=c" in post.split("\n")[2]
    assert "layers are 0..3" in err(s, "decode_residual", {"input": ["a"], "layer": 5})
    assert "where" in err(s, "decode_residual", {"input": ["a"], "layer": 0, "where": "after"})


def test_decode_residual_numerical(load):
    s = load("frac_prevs")
    text = ok(s, "decode_residual", {"input": ["x", "y", "x"], "layer": s.n_layers - 1})
    var = unembed_var(s)
    values = [re.search(rf"\b{var}=(\S+)", l).group(1) for l in text.split("\n")[2:5]]
    assert values == ["1", "0.5", "0.667"]


@pytest.mark.parametrize("task", ["reverse", "sort", "length"])
def test_embeddings_map_tokens_and_positions(load, task):
    s = load(task)
    text = ok(s, "embeddings")
    for t in s.vocab:
        assert re.search(rf"^token {t} -> .*\btokens={t}\b", text, re.M), t
    assert "position 0 -> nothing (zero vector)" in text
    for p in range(1, s.max_seq_len + 1):
        assert f"position {p} -> indices={p - 1}" in text


# -- determinism and the output cap -----------------------------------------------------------


CALLS = [
    ("model_info", {}), ("list_hooks", {}), ("embeddings", {}),
    ("run_model", {"inputs": [["a", "b", "c"], ["d"]]}),
    ("get_activations", {"hook": "blocks.0.hook_resid_post", "input": ["a", "c", "b"]}),
    ("get_activations", {"hook": "blocks.2.mlp.hook_pre", "input": ["a", "c", "b"]}),
    ("attention_pattern", {"layer": 0, "head": 0, "input": ["a", "c", "b"]}),
    ("decode_residual", {"input": ["a", "c", "b"], "layer": 2, "where": "mid"}),
    ("ablate", {"components": ["0.0", "1.mlp"], "inputs": [["a", "c"], ["b", "d", "a"]], "mode": "mean"}),
    ("patch", {"clean_input": ["a", "c"], "corrupt_input": ["d", "c"], "component": "blocks.1.hook_mlp_out"}),
]


@pytest.mark.parametrize("condition", ["full", "whitebox"])
def test_same_call_same_text(reverse_subject, condition):
    from tracr_agent.tools.suite import ablation

    s = reverse_subject
    ctx = ToolContext(condition=condition)
    for name, args in CALLS:
        if name == "run_model" and condition == "whitebox":
            continue
        first = ok(s, name, args, ctx)
        s._cache.clear()  # recompute the forward passes from scratch
        ablation._MEANS.pop(s, None)
        assert ok(s, name, args, ctx) == first, name


def test_huge_request_is_cut(reverse_subject):
    s = reverse_subject
    inputs = [[t1, t2, t3, t4, t5] for t1 in "ab" for t2 in "ab" for t3 in "abcd" for t4 in "cd" for t5 in "ab"][:16]
    r = call_tool(s, "ablate", {"components": ["0.0"], "inputs": inputs},
                  ToolContext(condition="whitebox", cap_tokens=300))
    assert r.truncated and not r.is_error
    assert r.text.split("\n")[-1].startswith("[output cut: ")
    assert len(r.text) <= 300 * 4
    # the default cap also bites on a request that is big by itself
    r = call_tool(s, "run_model", {"inputs": [["a", "b", "c", "d", "a"]] * 32}, ToolContext(cap_tokens=100))
    assert r.truncated and "[output cut: " in r.text


def test_attention_scores_are_pre_softmax(reverse_subject):
    """The bridge's hook_attn_scores carries the pattern; the subject recomputes q.k/sqrt(d_head)."""
    import torch

    s = reverse_subject
    acts = s.activations(["a", "b", "c"])
    for layer in range(s.n_layers):
        scores = acts[f"blocks.{layer}.attn.hook_attn_scores"]
        assert torch.allclose(torch.softmax(scores, -1), acts[f"blocks.{layer}.attn.hook_pattern"], atol=1e-5)
    text = ok(s, "get_activations", {"hook": "blocks.3.attn.hook_attn_scores", "input": ["a", "b", "c"]})
    assert text.split("\n")[4].split() == ["1", "a", "14.434", "0", "0", "28.868"]
