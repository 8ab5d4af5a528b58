"""The decompiler's reading of a residual stream in a basis nobody chose: calls planned within the
output cap that never repeat a refused one, an MLP's write known from hidden activations it never saw
(in the span of those it did), and values named from a head that matches them with the token."""

from __future__ import annotations

import numpy as np

from tracr_agent.agent.investigators.decompiler import rounds
from tracr_agent.agent.investigators.decompiler.observations import Observations
from tracr_agent.agent.investigators.decompiler.orders import names_from_match, open_pairs, order_of
from tracr_agent.agent.investigators.decompiler.output import _complete
from tracr_agent.agent.investigators.decompiler.writes import OutMap

INFO = {"n_vars": 4, "heads_per_layer": 1, "d_model": 40, "labelled": False, "max_seq_len": 4}


def test_a_refused_call_is_halved_and_read_hooks_are_not_asked_again():
    obs = Observations(cap_chars=20000)
    x, y = ("a", "b"), ("b",)
    obs.acts[x] = {"h1": np.zeros((3, 40))}
    reqs = [(x, ("h1", "h2", "h3")), (x, ("h2",)), (y, ("h2", "h3"))]
    assert rounds.missing(obs, reqs) == [(x, ("h2", "h3")), (y, ("h2", "h3"))]
    calls = rounds.plan(INFO, obs, reqs)
    assert sorted(c["hook"] for c in calls) == ["h2,h3"] and calls[0]["input"] == [["a", "b"], ["b"]]
    obs.refused.add((("h2", "h3"), (x, y), None))  # that call came back over the cap (all positions)
    halves = rounds.plan(INFO, obs, reqs)
    assert [(c["hook"], c["input"]) for c in halves] == [("h2", [["a", "b"], ["b"]]), ("h3", [["a", "b"], ["b"]])]
    obs.refused.add((("h2",), (x, y), None))
    assert [(c["hook"], c["input"]) for c in rounds.plan(INFO, obs, reqs)][:2] == [("h2", [["a", "b"]]), ("h2", [["b"]])]


def test_a_refused_read_of_one_hook_on_one_input_is_halved_by_positions():
    obs = Observations(cap_chars=20000)
    x = ("a", "b", "a")
    call = {"hook": "h1", "input": [list(x)], "positions_per_input": [[0, 1, 2, 3]], "format": "json"}
    obs.refused.add((("h1",), (x,), ((0, 1, 2, 3),)))
    assert rounds._split_refused([call], obs.refused) == [{**call, "positions_per_input": [[0, 1]]},
                                                          {**call, "positions_per_input": [[2, 3]]}]


def test_unexplained_positions_alone_are_read_where_every_position_is_dense():
    """Where the final residual stream leaves writes unknown at some positions only, the components' hooks
    are read at those positions (and not again once read)."""
    from tracr_agent.agent.investigators.decompiler.writes import Writes

    obs = Observations(cap_chars=20000)
    x = ("a", "b", "a")
    w = Writes(comps=[], need_rows={x: {2}})
    rows = rounds.split_rows(w, obs)
    assert rows(x, "blocks.0.hook_mlp_out") == [2] and rows(("b",), "blocks.0.hook_mlp_out") == [0, 1]
    obs.partial[(x, "blocks.0.hook_mlp_out")] = (np.zeros((4, 40)), {2})
    assert rows(x, "blocks.0.hook_mlp_out") == []


def test_an_mlp_write_is_known_in_the_span_of_hidden_activations_seen():
    rng = np.random.default_rng(0)
    w_out, bias = rng.normal(size=(5, 8)), rng.normal(size=8)
    hidden = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 2, 0, 0]], dtype=float)
    m = OutMap(hidden, hidden @ w_out + bias)
    new = np.array([0.5, 0.5, 0, 0, 0])  # never seen, but an affine combination of what was
    assert np.allclose(m.write(new), new @ w_out + bias)
    assert m.write(np.array([0, 0, 0, 1.0, 0])) is None  # a neuron never seen active: unknown


def test_values_are_named_from_a_head_selecting_all_but_a_matching():
    # unnamed values 0..3 against tokens 1..3: value v is left out exactly for token v + 1 (k != q - 1)
    table = {(t, v): v != t - 1 for t in (1, 2, 3) for v in range(4)}
    names = names_from_match(table, known_is_query=True)
    assert names == {0: 1, 1: 2, 2: 3}
    # value 3 matches no token: it gets a name no token has, so `!=` holds for it against every token
    assert _complete(names, range(4)) == {0: 1, 1: 2, 2: 3, 3: 4}
    assert names_from_match({(t, v): True for t in (1, 2) for v in range(2)}, True) is None  # selects all


def test_pairs_no_chain_of_comparisons_orders_are_left_open():
    """w < x < y < z, of which w-y, x-y and y-z were compared (selected: k < q): w and x are in some
    order, but no comparison says which; every other pair follows by a chain."""
    table = {("y", "w"): True, ("w", "y"): False, ("y", "x"): True, ("z", "y"): True, ("y", "z"): False}
    order, unique = order_of(table)
    assert not unique and order[2:] == ["y", "z"] and set(order[:2]) == {"w", "x"}
    assert open_pairs(table, order) == {(order[0], order[1])}
    table[("x", "w")] = True  # now compared
    order, unique = order_of(table)
    assert unique and order == ["w", "x", "y", "z"] and open_pairs(table, order) == set()
