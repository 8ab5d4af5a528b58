"""What a tool result shows, read into parts (agent/render/readings.py), on hand-made replies in the
protocol's formats: get_activations' JSON as matrices with labelled axes, residual reads by variable or by
raw dimension, the picture limit, a probe's scores, a static dump's sections; and the compact forms people
read (arguments in one line, JSON laid out to be cut like text)."""

from __future__ import annotations

import json

import pytest

from tracr_agent.agent.render import parse as P
from tracr_agent.agent.render.readings import (
    compact_args,
    cut_lines,
    prompt_parts,
    readable_json,
    result_parts,
)
from tracr_agent.tools.protocol.activations import reply

LABELS = ["indices:0", "indices:1", "indices:2", "one", "v1.sw", "v4:a", "v4:b", "tokens:BOS", "tokens:a", "tokens:b"]


def activations(inputs: dict, labels=LABELS) -> str:
    """A get_activations json reply: {tuple(input): {hook: sparse}}."""
    out = {"hooks": sorted({h for acts in inputs.values() for h in acts}),
           "inputs": [{"input": list(x), "acts": acts} for x, acts in inputs.items()]}
    if any("resid" in h or h.endswith(("attn_out", "mlp_out")) for h in out["hooks"]):
        out["residual_labels"] = labels
    return reply(out)


PATTERN = [[[[0, 1]], [[2, 1]], [[1, 1]]]]  # one head; query 1 reads key 2, query 2 reads key 1 (reverse of [a b])
RESID = [[[3, 1], [7, 1]],                  # BOS: one, tokens:BOS
         [[0, 1], [3, 1], [4, 0.3333], [6, 1], [8, 1]],  # indices 0, one, v1.sw, v4=b, tokens a
         [[1, 1], [3, 1], [4, 0.3333], [5, 1], [6, -1], [9, 1]]]  # v4 holds a and -1 b: a partial write


def test_a_json_attention_read_is_a_query_by_key_matrix_with_token_labels():
    text = activations({("a", "b"): {"blocks.1.attn.hook_pattern": PATTERN}})
    (m,) = result_parts("get_activations", {"format": "json", "hook": "blocks.1.attn.hook_pattern"}, text)
    assert isinstance(m, P.Matrix) and m.picture == "attention" and m.is_attention
    assert m.rows == m.cols == ["0 BOS", "1 a", "2 b"]
    assert m.values == [[1, 0, 0], [0, 0, 1], [0, 1, 0]] and m.scale == 1.0
    assert m.title == "blocks.1.attn.hook_pattern · head 0 on a b"
    # a read of one head names that head, not the index of the sliced array
    (m,) = result_parts("get_activations", {"format": "json", "hook": "blocks.1.attn.hook_pattern", "head": 3}, text)
    assert "head 3 on a b" in m.title


def test_a_json_residual_read_is_a_table_of_variables():
    text = activations({("a", "b"): {"blocks.0.hook_resid_post": RESID}})
    (t,) = result_parts("get_activations", {"format": "json"}, text)
    assert isinstance(t, P.VarTable) and t.picture == "residual"
    assert t.rows == ["0 BOS", "1 a", "2 b"] and t.cols == ["indices", "one", "v1.sw", "v4", "tokens"]
    assert t.cells[0] == ["-", "1", "0", "-", "BOS"]          # nothing written: '-' or 0 by kind
    assert t.cells[1] == ["0", "1", "0.3333", "b", "a"]       # one-hot values by name, numbers as numbers
    assert t.cells[2][3] == "a:1 b:-1"                        # not one-hot: its numbers, not a guess


def test_a_json_read_at_some_positions_labels_the_rows_it_holds():
    """positions_per_input: each input's reply holds the rows read (an attention table's queries), and
    says which; the pictures label those rows, and a pattern keeps every key."""
    out = {"hooks": ["blocks.0.hook_resid_post", "blocks.1.attn.hook_pattern"], "residual_labels": LABELS,
           "inputs": [{"input": ["a", "b"], "positions": [0, 2],
                       "acts": {"blocks.0.hook_resid_post": [RESID[0], RESID[2]],
                                "blocks.1.attn.hook_pattern": [[PATTERN[0][0], PATTERN[0][2]]]}}]}
    t, m = result_parts("get_activations", {"format": "json"}, reply(out))
    assert isinstance(t, P.VarTable) and t.rows == ["0 BOS", "2 b"] and t.cells[1][3] == "a:1 b:-1"
    assert isinstance(m, P.Matrix) and m.rows == ["0 BOS", "2 b"] and m.cols == ["0 BOS", "1 a", "2 b"]
    assert m.values == [[1, 0, 0], [0, 1, 0]]


def test_raw_dimensions_are_a_heatmap_of_the_non_zero_ones():
    raw = [f"d{j}" for j in range(10)]
    text = activations({("a", "b"): {"blocks.0.hook_resid_post": RESID}}, labels=raw)
    (m,) = result_parts("get_activations", {"format": "json"}, text)
    assert isinstance(m, P.Matrix) and m.picture == "residual"
    assert m.cols == ["d0", "d1", "d3", "d4", "d5", "d6", "d7", "d8", "d9"]  # d2 is 0 everywhere
    assert m.values[2][m.cols.index("d6")] == -1


def test_other_hooks_are_matrices_of_their_non_zero_columns():
    text = activations({("a",): {"blocks.0.mlp.hook_post": [[], [[5, 2.5]]],
                                 "blocks.0.attn.hook_z": [[[], []], [[[1, 1]], [[0, -1]]]]}})
    parts = result_parts("get_activations", {"format": "json"}, text)
    assert [(p.picture, p.cols) for p in parts] == [("activation", ["n5"]), ("activation", ["d1"]),
                                                    ("activation", ["d0"])]
    assert [p.title.split(" on ")[0] for p in parts] == ["blocks.0.mlp.hook_post", "blocks.0.attn.hook_z · head 0",
                                                         "blocks.0.attn.hook_z · head 1"]


def test_a_limit_stops_the_pictures_and_counts_the_rest():
    inputs = {tuple("ab"[: k % 2 + 1]) + ("a",) * k: {"blocks.1.attn.hook_pattern": [[[[0, 1]]] * (k + 3)] * 2,
                                                    "blocks.0.hook_resid_post": RESID} for k in range(5)}
    text = activations(inputs)
    every = result_parts("get_activations", {"format": "json"}, text)
    assert len(every) == 5 * 3 and not any(isinstance(p, P.Omitted) for p in every)  # 2 heads + 1 residual each
    cut = result_parts("get_activations", {"format": "json"}, text, limit=4)
    assert [type(p).__name__ for p in cut] == ["Matrix", "Matrix", "VarTable", "Matrix", "Omitted"]
    assert cut[-1].count == 11 and cut[-1].picture is None


def test_text_results_and_replies_that_are_not_what_they_say_stay_text():
    # the text form of get_activations goes to the text parser; a broken json reply is shown as text
    assert result_parts("get_activations", {"format": "json"}, '{"hooks": [') == [P.Lines('{"hooks": [')]
    assert result_parts("get_activations", {"format": "json"}, '{"hooks": []}') == [P.Lines('{"hooks": []}')]
    assert result_parts("get_activations", None, "error: no such hook", is_error=True) == [
        P.Lines("error: no such hook")]


def test_a_probe_is_its_held_out_score_by_directions_kept():
    text = ("probe at blocks.3.hook_resid_post, every token position; property token (4 values, categorical)\n"
            "fit on 1049 positions of 225 inputs, scored on 340 held-out positions of 75 inputs\n"
            "held-out accuracy 100.0% (always guessing the most common value: 27.6%)\n"
            "directions needed: 3 of 43 (rank 1: 48.2%, rank 2: 75.9%, rank 3: 100.0%)\n"
            "verdict: linearly readable here")
    m = next(p for p in result_parts("probe", {}, text) if p.picture)
    assert m.picture == "probe" and m.percent and m.scale == 1.0
    assert m.cols == ["most common value", "rank 1", "rank 2", "rank 3"]
    assert m.values[0] == pytest.approx([0.276, 0.482, 0.759, 1.0]) and m.text(0.482) == "48.2%"
    assert m.title.startswith("probe at blocks.3.hook_resid_post")
    numerical = text.replace("held-out accuracy 100.0% (always guessing the most common value: 27.6%)",
                             "held-out R² 0.990").replace("rank 1: 48.2%, rank 2: 75.9%, rank 3: 100.0%",
                                                          "rank 1: R² 0.500, rank 2: R² 0.990")
    m = next(p for p in result_parts("probe", {}, numerical) if p.picture)
    assert m.cols == ["rank 1", "rank 2"] and m.values == [[0.5, 0.99]] and not m.percent


def test_a_static_dump_is_drawn_with_each_table_named_by_its_hook():
    dump = ("input (BOS prepended): ['a', 'b']\n\n== blocks.0.attn.hook_pattern ==\n"
            'blocks.0.attn.hook_pattern for input ["a", "b"]: shape [1 head, 3 queries, 3 keys]; rows are queries\n'
            "head 0:\nquery\\key  0 BOS  1 a  2 b\n0 BOS          1    0    0\n1 a          0.5  0.5    0\n"
            "2 b            0    0    1\n\n== input/output pairs ==\n[\"a\"] -> [\"a\"]")
    parts = prompt_parts("Analyse this tracr model.\n" + dump)
    pictures = [p for p in parts if p.picture]
    assert [p.picture for p in pictures] == ["attention", "io"]
    assert pictures[0].title == "blocks.0.attn.hook_pattern on a b · head 0"
    assert prompt_parts("Find out which algorithm the model computes. [a] -> [b] is an example.") == []


def test_arguments_in_one_line():
    args = {"hook": "blocks.0.hook_resid_pre,blocks.0.hook_attn_out", "input": [["a", "b"], ["c"], ["d"], ["a"], ["b"]],
            "format": "json"}
    assert compact_args("get_activations", args) == (
        "hook=blocks.0.hook_resid_pre,blocks.0.hook_attn_out input=5 inputs: [a b] [c] [d] [a] +1 more format=json")
    assert compact_args("run_model", {"inputs": [["a"]]}) == "inputs=1 input: [a]"
    assert compact_args("attention_pattern", {"layer": 3, "head": 0, "input": ["a", "b"]}) == "layer=3 head=0 input=[a b]"
    assert compact_args("model_info", {}) == ""
    long = compact_args("x", {"description": "y" * 500}, width=40)
    assert len(long) == len("description=") + 40 and long.endswith("…")
    pred = {"label": "reverse", "implementation": "def f(t):\n    return t[::-1]\n", "confidence": 0.9}
    assert compact_args("submit_prediction", pred) == "label=reverse implementation=(2 lines) confidence=0.9"


def test_json_is_laid_out_one_value_per_line_to_be_cut_like_text():
    text = activations({("a", "b"): {"blocks.0.hook_resid_post": RESID}})
    laid = readable_json(text, width=60)
    assert json.loads(laid) == json.loads(text) and all(len(line) <= 60 for line in laid.splitlines()
                                                         if not line.strip().startswith('"residual_labels"'))
    head, more = cut_lines(laid, 5)
    assert len(head.splitlines()) == 5 and more == len(laid.splitlines()) - 5
    assert readable_json("not json") is None and readable_json('{"short": 1}') == '{"short":1}'
