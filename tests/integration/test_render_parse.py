"""The tool-result parser behind the pictures (HTML viewer, terminal grids), on the real tools' output for
the real reverse subject: every shape it knows comes back structured, anything else stays text."""

from __future__ import annotations

from tracr_agent.agent.render import parse as P
from tracr_agent.tools.suite.base import ToolContext, call_tool

X = ["a", "b", "c"]


def run(subject, name, args, condition="full", residual="labelled"):
    res = call_tool(subject, name, args, ToolContext(condition=condition, residual=residual))
    assert not res.is_error, res.text
    return res.text, P.parse_result(res.text)


def test_attention_pattern_is_a_query_by_key_matrix(reverse_subject):
    text, parts = run(reverse_subject, "attention_pattern", {"layer": 3, "head": 0, "input": X})
    (m,) = parts
    assert isinstance(m, P.Matrix) and m.is_attention
    assert m.rows == m.cols == ["0 BOS", "1 a", "2 b", "3 c"]
    assert m.values[1] == [0, 0, 0, 1] and m.values[3] == [0, 1, 0, 0]  # anti-diagonal: reverse
    assert m.title.startswith("head 3.0 on")


def test_get_activations_pattern_keeps_its_header_as_text(reverse_subject):
    _, parts = run(reverse_subject, "get_activations", {"hook": "blocks.0.attn.hook_pattern", "input": ["a", "b"]})
    assert isinstance(parts[0], P.Lines) and "shape" in parts[0].text
    assert isinstance(parts[1], P.Matrix) and parts[1].values[1] == [0.333, 0.333, 0.333]


def test_decode_residual_is_a_variable_table(reverse_subject):
    _, parts = run(reverse_subject, "decode_residual", {"layer": 2, "input": X})
    (t,) = parts
    assert isinstance(t, P.VarTable)
    assert t.rows == ["0 BOS", "1 a", "2 b", "3 c"] and t.cols[:3] == ["tokens", "indices", "one"]
    assert t.cells[1][0] == "a" and t.cells[0][1] == "-" and t.footer.startswith("the unembed reads")


def test_ablate_and_patch_are_before_after(reverse_subject):
    _, parts = run(reverse_subject, "ablate", {"components": ["3.0"], "inputs": [X, ["d", "a"]]})
    (e,) = parts
    assert isinstance(e, P.Effects) and e.kind == "ablate" and e.title == "zero-ablating 3.0"
    assert e.rows[0].input == X and e.rows[0].before == ["c", "b", "a"] and e.rows[0].changed == [1, 2, 3]
    _, parts = run(reverse_subject, "patch", {"component": "3.0", "clean_input": X, "corrupt_input": ["d", "a", "b"]})
    (p,) = parts
    assert isinstance(p, P.Effects) and p.kind == "patch"
    assert p.rows[0].before == ["b", "a", "d"] and p.rows[0].after == p.rows[0].reference == ["c", "b", "a"]


def test_white_box_ablate_and_patch_are_variable_changes(reverse_subject):
    _, parts = run(reverse_subject, "ablate", {"components": ["3.0"], "inputs": [X, ["d", "a"]]}, "whitebox")
    changes = next(p for p in parts if isinstance(p, P.Changes))
    assert [(c.input, c.position, c.before, c.after) for c in changes.rows][:2] == [
        ("a b c", "1 a", "c", "-"), ("a b c", "2 b", "b", "-")]
    assert changes.rows[-1].input == "d a"
    _, parts = run(reverse_subject, "patch", {"component": "3.0", "clean_input": X, "corrupt_input": ["d", "a", "b"]},
                   "whitebox")
    changes = next(p for p in parts if isinstance(p, P.Changes))
    assert changes.reference_name == "clean" and changes.rows[0].input == "d a b"
    assert (changes.rows[0].before, changes.rows[0].after, changes.rows[0].reference) == ("b", "c", "c")


def test_run_model_is_input_output_pairs_and_unknown_text_stays_text(reverse_subject):
    _, parts = run(reverse_subject, "run_model", {"inputs": [X, ["d"]]})
    assert parts == [P.IOPairs([(X, ["c", "b", "a"]), (["d"], ["d"])])]
    text, parts = run(reverse_subject, "model_info", {})
    assert parts == [P.Lines(text)] and not P.has_picture(parts)


def test_raw_residual_decode_is_a_sparse_table_of_dimensions(reverse_subject):
    _, parts = run(reverse_subject, "decode_residual", {"layer": 2, "input": X}, residual="raw")
    (t,) = parts
    assert isinstance(t, P.VarTable) and t.sparse and t.rows == ["0 BOS", "1 a", "2 b", "3 c"]
    assert all(c.startswith("d") for c in t.cols) and t.cols == sorted(t.cols, key=lambda c: int(c[1:]))
    # Every row lists its own non-zero dims; the others read 0.
    assert all(any(v != "0" for v in row) for row in t.cells) and any(v == "0" for v in t.cells[0])


def test_a_json_read_draws_the_same_pictures_as_the_text_read(reverse_subject):
    """The same reads in get_activations' two forms (the decompiler and the baselines read JSON) give the
    same pictures: attention as the text table's weights, the residual stream as decode_residual's values."""
    from tracr_agent.agent.render.readings import result_parts

    hooks = "blocks.3.attn.hook_pattern,blocks.2.hook_resid_post"
    args = {"hook": hooks, "input": [X], "format": "json"}
    res = call_tool(reverse_subject, "get_activations", args, ToolContext(condition="whitebox"))
    assert not res.is_error, res.text
    att, resid = result_parts("get_activations", args, res.text)
    (text_att,) = run(reverse_subject, "attention_pattern", {"layer": 3, "head": 0, "input": X})[1]
    assert (att.picture, att.rows, att.cols) == ("attention", text_att.rows, text_att.cols)
    assert att.values == text_att.values
    (decoded,) = run(reverse_subject, "decode_residual", {"layer": 2, "input": X})[1]
    assert resid.picture == "residual" and resid.rows == decoded.rows
    for var in resid.cols:  # a variable written anywhere holds what decode_residual says it holds
        assert [row[resid.cols.index(var)] for row in resid.cells] == [row[decoded.cols.index(var)]
                                                                       for row in decoded.cells], var
    # raw dimensions: the same read, a heatmap of the non-zero dims
    res = call_tool(reverse_subject, "get_activations", args, ToolContext(condition="whitebox", residual="raw"))
    raw = result_parts("get_activations", args, res.text)[1]
    assert raw.picture == "residual" and all(c.startswith("d") for c in raw.cols) and raw.values
