"""component_writes and project: a component's writes found as directions and distinct points — the
rank and values tracr's weights say it writes — in tracr's basis, a rotated one and a compressed one;
projections that read the same values back on one input; one error line for a bad call."""

from __future__ import annotations

import numpy as np
import pytest

from tracr_agent.tools.protocol.directions import parse_projection, parse_writes
from tracr_agent.tools.subjects.transforms import apply_transform
from tracr_agent.tools.suite import ToolContext, call_tool

WHITEBOX = ToolContext(condition="whitebox")


def _call(subject, name, args, ctx=WHITEBOX):
    r = call_tool(subject, name, args, ctx)
    assert not r.is_error, r.text
    return r


def _components(subject) -> list[str]:
    return [f"{l}.{h}" for l, h in subject.nonempty_heads] + [f"{l}.mlp" for l in subject.nonempty_mlps]


def _written_dims(subject, component: str) -> tuple[int, int]:
    """(residual dims the component ever writes, distinct non-zero vectors it writes), counted in tracr's own
    basis on the sample: every tracr variable value is its own dim, so the span is exactly those dims."""
    from tracr_agent.tools.suite.writes import write_subspace

    v = write_subspace(subject, WHITEBOX, component).vectors
    live = np.abs(v).max(0) > 1e-3
    rows = {tuple(np.round(r, 3)) for r in v if np.abs(r).max() > 1e-3}
    return int(live.sum()), len(rows)


@pytest.mark.parametrize("task_id", ["reverse", "sort", "frac_prevs", "hist"])
def test_component_writes_recovers_the_rank_and_values_tracr_writes(load, task_id):
    """Every non-empty head and MLP: the rank found in a rotated basis is the number of residual dims the
    component writes in tracr's basis, its distinct writes the distinct vectors it writes there; the labelled
    view decodes each distinct write as one value of one variable."""
    original = load(task_id)
    rotated = apply_transform(original, "rotated:3")
    for comp in _components(original):
        dims, points = _written_dims(original, comp)
        found = parse_writes(_call(rotated, "component_writes", {"component": comp}).text)
        assert (found.rank, len(found.clusters) + found.more) == (dims, points), (task_id, comp)
        assert found.n_vectors == sum(c.count for c in found.clusters) + found.more_vectors + found.zero
        labelled = parse_writes(_call(original, "component_writes", {"component": comp}).text)
        assert [(c.name, c.count, c.shared, c.examples) for c in labelled.clusters] == \
            [(c.name, c.count, c.shared, c.examples) for c in found.clusters]  # the same points, named alike
        assert all(c.decoded for c in labelled.clusters) and not any(c.decoded for c in found.clusters)


def test_reverse_output_head_writes_one_variable_of_four_values(reverse_subject):
    """Head 3.0 of reverse moves the mirrored token: four distinct writes, a 4-dim subspace, one value of the
    same variable each, and every value the vocabulary has."""
    w = parse_writes(_call(reverse_subject, "component_writes", {"component": "3.0"}).text)
    assert w.rank == 4 and len(w.clusters) == 4 and w.zero == 0 and w.component == "head 3.0"
    decoded = [c.decoded for c in w.clusters]
    assert len({d.split("=")[0] for d in decoded}) == 1
    assert sorted(d.split("=")[1] for d in decoded) == sorted(reverse_subject.vocab)
    assert [c.count for c in w.clusters] == sorted((c.count for c in w.clusters), reverse=True)


def test_a_numerical_write_keeps_close_values_apart(load):
    """frac_prevs' head writes the running fraction along one direction: 1/5 and 1/6 are distinct writes."""
    w = parse_writes(_call(apply_transform(load("frac_prevs"), "rotated"), "component_writes",
                           {"component": "1.0"}).text)
    assert w.rank == 1 and len(w.clusters) == 12
    norms = sorted(round(c.norm, 3) for c in w.clusters)
    assert 0.167 in norms and 0.2 in norms and 0.8 in norms and 0.833 in norms


def test_component_writes_on_given_inputs_and_positions(reverse_subject):
    w = parse_writes(_call(reverse_subject, "component_writes",
                           {"component": "0.0", "inputs": [["a", "b"], ["c", "c", "d"]], "positions": [0, 2]}).text)
    assert (w.n_vectors, w.inputs, w.where) == (4, "2 inputs", "positions 0, 2")
    examples = sorted((tuple(x), p) for c in w.clusters for x, p in c.examples)
    assert examples == [(("a", "b"), 0), (("a", "b"), 2), (("c", "c", "d"), 0), (("c", "c", "d"), 2)]


@pytest.mark.parametrize("transform", [None, "rotated:5"])
def test_project_onto_a_head_reads_the_values_it_wrote(reverse_subject, transform):
    """The final residual projected onto head 3.0's writes: at each position, the distinct write whose value
    is the mirrored token (the names w1… are component_writes' in any basis)."""
    s = reverse_subject if transform is None else apply_transform(reverse_subject, transform)
    value_of = {c.name: c.decoded.split("=")[1] for c in parse_writes(
        _call(reverse_subject, "component_writes", {"component": "3.0"}).text).clusters}
    for x in (["a", "b", "c"], ["d", "a", "a", "c", "b"], ["b"]):
        p = parse_projection(_call(s, "project", {"input": x, "component": "3.0"}).text)
        assert p.decoded[0] == "-" and [value_of[w] for w in p.decoded[1:]] == x[::-1]
        assert p.columns == ["c1", "c2", "c3", "c4"] and len(p.coords) == len(x) + 1
    before = parse_projection(_call(s, "project", {"input": ["a", "b"], "component": "3.0",
                                                   "hook": "blocks.3.hook_resid_pre"}).text)
    assert before.decoded == ["-", "-", "-"]  # nothing is in its subspace before it writes


@pytest.mark.parametrize("transform", [None, "rotated:2", "compressed:38"])
def test_project_on_a_probe_direction_reads_the_property(load, transform, tmp_path, monkeypatch):
    """A probe of the mirrored token at the last layer, applied to one input: its reading is the input
    reversed there, and nothing at the embedding (another hook, the same directions)."""
    s = load("reverse")
    if transform is not None:
        monkeypatch.setenv("TRACR_AGENT_CACHE", str(tmp_path))
        s = apply_transform(s, transform)
    probe = {"hook": f"blocks.{s.n_layers - 1}.hook_resid_post", "property": "tokens[len(tokens) - 1 - i]"}
    for x in (["a", "b", "c", "d"], ["c", "a"]):
        r = _call(s, "project", {"input": x, "probe": probe})
        assert r.data["decoded"] == [None, *x[::-1]] and r.data["columns"] == ["a", "b", "c", "d"], r.text
        assert "3 directions; held-out accuracy 100.0%" in r.data["onto"]
    early = _call(s, "project", {"input": ["a", "b"], "probe": probe, "hook": "hook_embed"}).data
    assert early["decoded"] == [None, None, None]


def test_project_on_a_numerical_probe(load):
    s = apply_transform(load("frac_prevs"), "rotated:1")
    probe = {"hook": f"blocks.{s.n_layers - 1}.hook_resid_post", "property": "tokens[:i+1].count('x') / (i+1)"}
    x = ["x", "y", "x", "x"]
    p = _call(s, "project", {"input": x, "probe": probe}).data
    assert p["columns"] == ["value"]
    assert np.allclose(p["decoded"][1:], [1, 0.5, 2 / 3, 0.75], atol=2e-3)


@pytest.mark.parametrize("name, args, message", [
    ("component_writes", {"component": "9.0"}, "layer 9 is out of range"),
    ("component_writes", {"component": "0.7"}, "head 7 is out of range"),
    ("component_writes", {"component": "mlp"}, "component 'mlp' not understood"),
    ("component_writes", {"component": "0.0", "positions": [9]}, "positions must be some of 0..5"),
    ("component_writes", {"component": "0.0", "inputs": [["zz"]]}, "not in the vocab"),
    ("component_writes", {"component": "0.0", "inputs": [5]}, "error: "),
    ("component_writes", {"component": "0.0", "inputs": [[{"a": 1}]]}, "error: token "),
    ("component_writes", {"component": "0.0", "inputs": [["a", "b"]], "positions": [4]}, "no input has a position"),
    ("project", {"input": ["a"]}, "give either component"),
    ("project", {"input": ["a"], "component": "3.0", "probe": {"hook": "hook_embed", "property": "token"}},
     "give either component"),
    ("project", {"input": ["a"], "component": "1.0"}, "head 1.0 writes nothing on the sample"),
    ("project", {"input": ["a"], "component": "3.0", "hook": "blocks.0.mlp.hook_post"}, "is not in the residual basis"),
    ("project", {"input": ["a"], "component": "3.0", "hook": "logits"}, "logits are not available"),
    ("project", {"input": ["a"], "probe": {"hook": "hook_embed", "property": "token"},
                 "hook": "blocks.0.mlp.hook_post"}, "features per position"),
    ("project", {"input": ["a"], "probe": {"hook": "hook_embed", "property": "len(tokens) * 0"}}, "one value"),
    ("project", {"input": ["a"], "probe": {"hook": "hook_embed"}}, "probe.property: Field required"),
])
def test_a_bad_call_is_one_line(reverse_subject, name, args, message):
    r = call_tool(reverse_subject, name, args, WHITEBOX)
    assert r.is_error and message in r.text and "\n" not in r.text and "failed" not in r.text, r.text


def test_pictures_are_drawn_as_the_other_tools_are(reverse_subject):
    """The live view and the viewer draw the distinct writes and the coordinates as heatmaps and the
    projection's reading as a decode table, each picture named for its tool (`data-picture`)."""
    from tracr_agent.agent.render import parse as P
    from tracr_agent.agent.render.grids import result_renderable
    from tracr_agent.agent.render.html.pictures import Drawing
    from tracr_agent.agent.render.readings import result_parts

    args = {"component": "3.0"}
    writes = _call(reverse_subject, "component_writes", args).text
    parts = result_parts("component_writes", args, writes)
    heat = [p for p in parts if isinstance(p, P.Matrix)]
    assert len(heat) == 1 and heat[0].corner == "cluster" and heat[0].cols == ["c1", "c2", "c3", "c4"]
    assert [r.split()[0] for r in heat[0].rows] == ["w1", "w2", "w3", "w4"]
    drawing = Drawing()
    assert 'data-picture="writes"' in drawing.figure(heat[0]) and drawing.descriptors[0]["draw"] == "matrix"
    assert result_renderable(writes, name="component_writes", args=args) is not None
    args = {"input": ["a", "b"], "component": "3.0"}
    projected = _call(reverse_subject, "project", args).text
    matrix, decode = result_parts("project", args, projected)
    assert isinstance(matrix, P.Matrix) and matrix.rows == ["0 BOS", "1 a", "2 b"] and "project" in matrix.title
    assert isinstance(decode, P.VarTable) and decode.cols == ["3.0"] and [r[0] for r in decode.cells][0] == "-"
    assert 'data-picture="projection"' in drawing.figure(matrix) and 'data-picture="projection"' in drawing.figure(decode)
    assert drawing.descriptors[-1]["draw"] == "table"
    assert result_renderable(projected, name="project", args=args) is not None
