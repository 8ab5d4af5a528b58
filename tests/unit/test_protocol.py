"""The protocol (tools/protocol/): every tool format reads back through the parser declared beside it,
hook names come from one helper, and the cap arithmetic and payloads behave as the investigators rely on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tracr_agent.tools.protocol import (activations, cap, decode, directions, hooks, model_info, payloads, raw,
                                        run_model, values)


@pytest.mark.parametrize("seq", [["a", "b", None], [1, 2, 3], [True, False], ['q"uote', "x,y", "[z]"], [-1, 0.5]])
def test_a_written_sequence_reads_back(seq):
    assert values.parse_seq(values.fmt_seq(seq)) == seq


def test_numbers_are_written_rounded_and_read_back():
    assert values.fmt_num(0.00001) == "0" and values.fmt_num(1.23456) == "1.235" and values.fmt_num(2.0) == "2"
    assert [values.parse_value(s) for s in ("-", "True", "3", "0.5", "v2")] == [None, True, 3, 0.5, "v2"]
    assert values.shows_nonzero(0.0006) and not values.shows_nonzero(0.0004)


@pytest.mark.parametrize("numerical", [False, True])
def test_run_model_lines_read_back_as_the_observations(numerical):
    inputs = [["a", "b"], ["c"], [1, 2, 3]]
    outputs = [[0.12345, 1.0], [3.0], [2.5, 0.0, -1.0]] if numerical else [["b", "a"], [None], [3, 2, 1]]
    text = run_model.run_lines(inputs, outputs, numerical)
    obs = run_model.parse_run(text)
    expected = {tuple(x): [round(v, 4) for v in y] if numerical else y for x, y in zip(inputs, outputs)}
    assert obs == expected
    assert run_model.observations(run_model.payload(text)) == expected
    assert run_model.parse_run("error: at most 32 inputs per call\nnot a line") == {}


def test_decode_tables_read_back_labelled_and_raw():
    labels = ["0 BOS", "1 a", "2 b"]
    rows = [[("tokens", "BOS"), ("v1", "-")], [("tokens", "a"), ("v1", "3")], [("tokens", "b"), ("v1", "0.5")]]
    text = "\n".join(decode.decode_lines(hooks.resid(2, "mid"), labels, rows, raw=False))
    assert text.splitlines()[0] == "blocks.2.hook_resid_mid, decoded by variable (one line per position):"
    assert decode.parse_decode(text) == (2, {"tokens": ["a", "b"], "v1": [3, 0.5]})
    raw_rows = [[("d0", "1")], [], [("d3", "1"), ("d7", "0.25")]]
    raw_text = "\n".join(decode.decode_lines(hooks.resid(0), labels, raw_rows, raw=True))
    assert "1 a    all 0" in raw_text
    assert decode.payload(raw_text) == {"layer": 0, "values": {"d3": [1], "d7": [0.25]}}
    assert decode.payload("error: layer 9 is out of range") is None


def _subject(**over):
    base = dict(nonempty_heads=[(0, 0), (2, 1)], nonempty_mlps=[1], n_layers=3, n_heads=2, d_model=12, d_head=4,
                d_mlp=8, vocab=["a", "b", 3], bos="BOS", max_seq_len=5, output_kind="categorical",
                output_values=["x", None, 2], residual_labels=["tokens:a", "v1:1", "v2", "v10:3", "one"],
                output_variable="v2")
    return SimpleNamespace(**{**base, **over})


@pytest.mark.parametrize("rank, more", [(3, 0), (1, 2), (0, 0)])
def test_component_writes_read_back(rank, more):
    clusters = [directions.Cluster("w1", 412, 0.412, 1.414, [1.414, 0, 0][:rank], [("token", "a"), ("n", 3)],
                                   [(["a", "b"], 1), (["c", 'q"', "a"], 3)], "v3=a v4=1"),
                directions.Cluster("w2", 7, 0.007, 0.5, [0, -0.5, 0.25][:rank], [], [([1, 2], 0)], "")]
    w = directions.Writes("head 1.0", "blocks.1.attn.hook_z @ W_O", "positions 0, 2", "300 inputs (a sample)", 1000,
                          43, [1, 0.707, 0.5, 0][: rank + 1], rank, 581, clusters if rank else [], more, 5 * more)
    text = directions.writes_text(w)
    assert directions.parse_writes(text) == w
    assert payloads.payload("component_writes", {}, text)["clusters"] == [
        {**vars(c), "shared": list(c.shared), "examples": list(c.examples)} for c in w.clusters]
    assert directions.parse_writes("error: head 9 is out of range") is None


def test_projections_read_back():
    p = directions.Projection("blocks.3.hook_resid_post", ["a", "b"], "the write subspace of head 3.0 (2 directions)",
                              ["c1", "c2"], ["0 BOS", "1 a", "2 b"], [[0, 0], [1, 0.5], [0, 1]], "3.0",
                              ["-", "w1", "?"], "nearest write of head 3.0 at each position")
    text = directions.project_text(p)
    assert directions.parse_projection(text) == p
    assert payloads.payload("project", {}, text)["decoded"] == [None, "w1", "?"]
    numerical = directions.project_text(directions.Projection(
        "hook_embed", [1], "a probe", ["value"], ["0 BOS", "1 1"], [[0.1], [0.667]], "probe", ["0.1", "0.667"], "r"))
    assert payloads.payload("project", {}, numerical)["decoded"] == [0.1, 0.667]


def test_model_info_reads_back():
    info = model_info.parse_model_info(model_info.model_info_text(_subject(), show_output=True, raw=False))
    assert info == {"vocab": ["a", "b", 3], "max_seq_len": 5, "n_layers": 3, "heads_per_layer": 2, "d_model": 12,
                    "numerical": False, "output_values": ["x", 2], "heads": [(0, 0), (2, 1)], "mlps": [1],
                    "n_vars": 5, "labelled": True, "d_head": 4, "d_mlp": 8}
    raw_info = model_info.parse_model_info(model_info.model_info_text(
        _subject(output_kind="numerical", nonempty_heads=[]), show_output=False, raw=True))
    assert raw_info["numerical"] and raw_info["heads"] == [] and raw_info["n_vars"] == 4  # d_model // 3
    assert not raw_info["labelled"]
    assert model_info.info_of({"heads": [[0, 1]], "d_model": 3})["heads"] == [(0, 1)]


def test_the_unembedded_variable_is_named_only_where_outputs_are_shown():
    assert "the unembed reads variable v2" in model_info.model_info_text(_subject(), show_output=True, raw=False)
    assert "unembed" not in model_info.model_info_text(_subject(), show_output=False, raw=False)


def test_activations_sparse_form_reads_back_dense():
    resid = torch.tensor([[1.0, 0.0, 0.25], [0.0, 0.00004, 2.0], [0, 0, 0]])
    pattern = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    # a row mostly non-zero is every number (shorter than index pairs); a sparse one, its pairs
    assert activations.sparse(resid) == [[1, 0, 0.25], [[2, 2]], []]
    assert activations.sparse(torch.tensor([0.0] * 9 + [0.5])) == [[9, 0.5]]
    back = activations.dense(activations.sparse(resid), hooks.resid(0), 3, 3)
    assert back.tolist() == [[1.0, 0.0, 0.25], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]
    assert activations.dense(activations.sparse(pattern), hooks.attn_pattern(0), 2, 3).tolist() == pattern.tolist()
    reply = activations.reply({"hooks": ["h"], "inputs": []})
    assert reply == '{"hooks":["h"],"inputs":[]}' and activations.payload(reply) == {"hooks": ["h"], "inputs": []}


def test_cap_cuts_text_at_a_line_and_says_so():
    text = "\n".join(f"line {i:04d}" for i in range(400))
    cut, was_cut = cap.cap_text(text, 200)
    assert was_cut and len(cut) <= cap.cap_chars(200) and cut.splitlines()[-1].startswith("[output cut: ")
    assert cap.cap_text("short", 200) == ("short", False)
    refusal = cap.over_cap(9000, 1500)
    assert cap.refused_cap("error: " + refusal) == 6000 == cap.cap_chars(1500)
    assert cap.refused_cap("error: something else") is None


def test_payloads_follow_the_declared_parsers():
    text = run_model.run_lines([["a"]], [["b"]], False)
    assert payloads.payload("run_model", {}, text) == {"pairs": [[["a"], ["b"]]]}
    assert payloads.payload("get_activations", {"format": "text"}, "blocks.0 …") is None
    assert payloads.payload("get_activations", {"format": "json"}, '{"inputs": []}') == {"inputs": []}
    assert payloads.payload("list_hooks", {}, "anything") is None
    assert payloads.payload("submit_prediction", {}, "prediction recorded: x") == {"recorded": True}
    refused = "error: " + cap.over_cap(7000, 1000)
    assert payloads.payload("get_activations", {"format": "json"}, refused, is_error=True) == \
        {"refused": "cap", "cap_chars": 4000}
    assert payloads.payload("run_model", {}, "error: bad", is_error=True) is None
    # a reader that fails never changes what the caller gets: no payload, no exception
    assert payloads.payload("get_activations", {"format": "json"}, "{not json") is None
    assert payloads.payload(["not", "a", "name"], {}, "x") is None
    assert payloads.is_error_text("error: x") and not payloads.is_error_text("prediction recorded")


def test_hook_names_come_from_one_helper():
    names = hooks.standard_hooks(2)
    assert names[:2] == [hooks.EMBED, hooks.POS_EMBED] and len(names) == 2 + 2 * len(hooks.PER_LAYER)
    assert names.index(hooks.attn_pattern(1)) < names.index(hooks.final_resid(2)) == len(names) - 1
    assert hooks.resid(1, "mid") == "blocks.1.hook_resid_mid" and hooks.attn_z(0) == "blocks.0.attn.hook_z"
    assert hooks.every_layer("attn.hook_pattern", 2) == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"]
    assert hooks.every_layer("hook_pos_embed", 2) == ["hook_pos_embed"]
    kinds = {h: hooks.hook_kind(h) for h in (hooks.EMBED, hooks.attn_q(0), hooks.attn_scores(1), hooks.mlp_out(0),
                                             "blocks.0.mlp.hook_pre", hooks.LOGITS)}
    assert list(kinds.values()) == ["resid", "per_head", "head_table", "resid", "mlp", "logits"]
    assert hooks.hook_layer(hooks.attn_out(3)) == 3 and hooks.hook_layer(hooks.EMBED) is None


def test_raw_dimension_names():
    assert raw.raw_dim_names(3) == ["d0", "d1", "d2"]
    assert raw.all_raw(["d0", "d12"]) and not raw.all_raw(["d0", "v1:2"]) and not raw.all_raw([])


def test_a_results_envelope_reaches_programs_and_nothing_reaches_the_model():
    from tracr_agent.agent.loop.graph import tool_message

    assert payloads.opened(payloads.envelope(False, {"cap_chars": 9})) == (False, {"cap_chars": 9})
    assert payloads.opened({"pairs": []}) is None and payloads.opened(None) is None
    msg = tool_message({"id": "c1", "name": "run_model"}, "error: bad", True, None)
    assert msg.content == "error: bad" and payloads.opened(msg.artifact) == (False, None)
    # the message's own status stays the default: a provider that sends it (Anthropic's is_error)
    # receives what it always did
    assert msg.status == "success"
