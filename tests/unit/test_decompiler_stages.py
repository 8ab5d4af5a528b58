"""Each stage of the decompiler (agent/investigators/decompiler/) on small hand-made data: no subject,
no forward pass. The end-to-end decompiler on real compiled models is tests/integration/test_decompiler.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tracr_agent.agent.investigators.decompiler import coverage, discovery, heads, mlps, probes, rounds
from tracr_agent.agent.investigators.decompiler.analysis import Reading, decompile, stage_hooks
from tracr_agent.agent.investigators.decompiler.observations import Observations, read_results
from tracr_agent.agent.investigators.decompiler.output import decompile_internals, output_observations
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep, Program, source, trace
from tracr_agent.agent.investigators.decompiler.variables import Variable, from_labels, read_all, value_of
from tracr_agent.agent.investigators.decompiler.writes import post_hook, read_writes
from tracr_agent.agent.investigators.rule_based import Result
from tracr_agent.agent.loop.marks import mark_of
from tracr_agent.tools.protocol import activations, cap
from tracr_agent.tools.protocol.hooks import EMBED, POS_EMBED, attn_out, attn_pattern, final_resid, mlp_out, resid

# A one-layer model over tokens a, b (max length 2): its MLP writes v1 = x for a, y for b.
LABELS = ["tokens:a", "tokens:b", "indices:0", "indices:1", "indices:2", "one", "v1:x", "v1:y"]
VOCAB = ["a", "b"]
INFO = {"vocab": VOCAB, "max_seq_len": 2, "n_layers": 1, "heads_per_layer": 1, "d_model": 8, "numerical": False,
        "output_values": ["x", "y"], "heads": [], "mlps": [0], "n_vars": 4}


def resid_of(x: tuple, with_v1: bool = True, only_v1: bool = False) -> np.ndarray:
    rows = np.zeros((len(x) + 1, 8))
    for p, tok in enumerate(("BOS",) + x):
        if not only_v1:
            rows[p, 2 + p] = 1  # indices
            rows[p, 5] = 1  # one
            if tok in VOCAB:
                rows[p, VOCAB.index(tok)] = 1
        if (with_v1 or only_v1) and tok in VOCAB:
            rows[p, 6 if tok == "a" else 7] = 1
    return rows


def observations(inputs) -> Observations:
    obs = Observations(residual_labels=list(LABELS))
    for x in inputs:
        obs.acts[x] = {resid(0, "pre"): resid_of(x, with_v1=False), mlp_out(0): resid_of(x, only_v1=True),
                       final_resid(1): resid_of(x)}
    return obs


# -- probes: which inputs, in calls under the cap ----------------------------------------------------

def test_probe_inputs_start_designed_and_stay_distinct():
    xs = probes.round1(["b", "a", "c"], 4, n=12)
    assert xs[:3] == [("a",), ("b",), ("c",)] and ("a", "b", "c", "a") in xs and ("a",) * 4 in xs
    assert len(xs) == len(set(xs)) <= 12
    assert probes.scan_inputs(xs, 4)[0] == max((x for x in xs if len(x) == 4), key=lambda x: len(set(x)))
    assert len(probes.domain_sample(["a", "b"], 3)) == 2 + 4 + 8  # a small domain whole
    big = probes.domain_sample(list("abcdef"), 6, k=50)
    assert len(big) == len(set(big)) <= 50


def test_planned_calls_cover_every_request_within_the_budget():
    reqs = [((t,) * 3, (final_resid(2), attn_pattern(0))) for t in "abcdefgh"]
    for budget in (400, 1200, 100_000):
        calls = probes.plan_calls(reqs, budget, n_vars=5, n_heads=1)
        covered = {(tuple(x), h) for c in calls for x in c["input"] for h in c["hook"].split(",")}
        assert covered == {(x, h) for x, hooks in reqs for h in hooks}
        assert all(c["format"] == "json" for c in calls)
    assert len(probes.plan_calls(reqs, 400, 5, 1)) > len(probes.plan_calls(reqs, 100_000, 5, 1)) == 1


def test_calls_filled_to_the_cap_read_every_position_once_and_need_fewer_calls():
    """Dense reads (every position a vector of d_model numbers): an input whose positions do not all fit in
    what is left of a call is read there at some and at the rest in the next; each call within the
    budget, every (input, hook, position) read exactly once, and fewer calls than whole inputs need."""
    hooks = (final_resid(2), mlp_out(0), attn_pattern(0))
    reqs = [(x, hooks) for x in [("a",) * n for n in range(1, 7)] + [("b", "a") * 3, ("b",)]]
    sizes = {final_resid(2): [1200, 2], mlp_out(0): [1200, 2], attn_pattern(0): [60, 2]}
    budget = 5000
    filled = probes.fill_calls(reqs, budget, 5, 1, sizes, dense=66)
    read = [(tuple(x), h, p) for c in filled for i, x in enumerate(c["input"]) for h in c["hook"].split(",")
            for p in (c["positions_per_input"][i] if "positions_per_input" in c else range(len(x) + 1))]
    assert sorted(read) == sorted((x, h, p) for x, hs in reqs for h in hs for p in range(len(x) + 1))
    assert any("positions_per_input" in c for c in filled)
    for c in filled:  # what each call was planned to take, as the planner sizes it
        size = 200 + len(json.dumps([f"d{j}" for j in range(66)])) + len(c["hook"])
        for i, x in enumerate(c["input"]):
            rows = c["positions_per_input"][i] if "positions_per_input" in c else range(len(x) + 1)
            costs = [probes.row_chars(tuple(x), h, 5, 1, sizes, 66) for h in c["hook"].split(",")]
            size += 60 + 20 * len(x) + sum(f + len(h) + 6 for (f, _), h in zip(costs, c["hook"].split(",")))
            size += len(rows) * sum(r for _, r in costs)
        assert size <= budget
    kinds = {"resid": [1200, 2], "component": [1200, 2], "pattern": [60, 2]}  # the same sizes, by hook kind
    for b in (budget, 8000):
        assert len(probes.fill_calls(reqs, b, 5, 1, sizes, dense=66)) < len(probes.plan_calls(reqs, b, 5, 1, kinds,
                                                                                              dense=66))
    # positions already read are not read again
    again = probes.fill_calls(reqs, budget, 5, 1, sizes, dense=66, rows=lambda x, h: [0] if len(x) == 6 else [])
    assert [(c["input"], c["positions_per_input"]) for c in again] == [([["a"] * 6, ["b", "a"] * 3], [[0], [0]])]


def test_observations_merge_an_activation_read_at_some_positions_in_two_calls():
    x = ("a", "b")
    full = resid_of(x)

    def part(rows):
        entry = {"input": list(x), "positions": rows,
                 "acts": {final_resid(1): activations.sparse(_tensor(full[rows]))}}
        return Result("get_activations", {"format": "json"}, True,
                      {"hooks": [final_resid(1)], "residual_labels": LABELS, "inputs": [entry]})

    obs = read_results([part([0, 2])], 8)
    assert not obs.has(x, final_resid(1)) and obs.rows_left(x, final_resid(1)) == [1]
    obs = read_results([part([0, 2]), part([1])], 8)
    assert obs.has(x, final_resid(1)) and np.array_equal(obs.get(x, final_resid(1)), full)
    assert obs.rows_left(x, final_resid(1)) == [] and not obs.partial


# -- observations: payloads back into arrays ----------------------------------------------------------

def test_observations_read_json_payloads_and_learn_the_cap():
    x = ("a", "b")
    data = {"hooks": [final_resid(1)], "residual_labels": LABELS,
            "inputs": [{"input": list(x), "acts": {final_resid(1): activations.sparse(_tensor(resid_of(x)))}}]}
    refused = {"refused": "cap", "cap_chars": 3000}
    results = [Result("get_activations", {"format": "json"}, True, data),
               Result("get_activations", {"format": "json"}, False, refused),
               Result("get_activations", {"format": "text"}, True, None), Result("model_info", {}, True, {})]
    obs = read_results(results, 8)
    assert obs.residual_labels == LABELS and obs.has(x, final_resid(1)) and not obs.has(x, attn_pattern(0))
    assert np.array_equal(obs.get(x, final_resid(1)), resid_of(x))
    assert (obs.failed, obs.cap_chars) == (1, 3000) and obs.sizes["resid"][1] == 3
    assert cap.cap_chars(750) == 3000


def _tensor(a):
    import torch

    return torch.tensor(a)


# -- variables ----------------------------------------------------------------------------------

def test_variables_from_labels_and_their_values():
    vs = {v.name: v for v in from_labels(LABELS + ["v2", "v3:('a', 0)"], VOCAB)}
    assert vs["tokens"].values == ("a", "b") and vs["indices"].values == (0, 1, 2)
    assert (vs["v2"].kind, vs["v2"].dims) == ("numerical", (8,)) and vs["v3"].values == (("a", 0),)
    row = np.zeros(10)
    row[[1, 6]], row[8] = 1, 0.123456
    assert (vs["tokens"].read(row), vs["v1"].read(row), vs["v2"].read(row)) == ("b", "x", 0.1235)
    assert vs["indices"].read(row) is None and not vs["indices"].written(row) and vs["v1"].written(row)
    assert [value_of(t) for t in ("3", "True", "('a', 0)", "x")] == [3, True, ("a", 0), "x"]
    assert read_all([vs["tokens"]], resid_of(("a", "b")))["tokens"] == [None, "a", "b"]


# -- discovery: variables as the distinct points each component writes, in any basis ------------------

RAW_INFO = {**INFO, "labelled": False, "d_mlp": 0}


def rotated_observations(inputs, q: np.ndarray) -> Observations:
    """The synthetic model's reads in the basis q (rows: the new basis), without residual labels."""
    obs = Observations()
    for x, acts in observations(inputs).acts.items():
        obs.acts[x] = {hook: a @ q.T for hook, a in acts.items()}
    return obs


def test_discovery_finds_a_variable_as_the_distinct_points_a_component_writes_in_any_basis():
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    inputs = [("a",), ("b",), ("a", "b"), ("b", "a"), ("b", "b")]
    obs = rotated_observations(inputs, q)
    writes = read_writes(RAW_INFO, obs)
    assert not writes.dependent and not writes.unexplained
    found = discovery.discover(RAW_INFO, obs, writes)
    [m0] = [f for f in found.found if f.source == "mlp0"]
    assert m0.var.kind == "categorical" and len(m0.var.values) == 2  # two points, not eight dimensions
    v = {x: found.values[x]["m0"][1:] for x in inputs}
    assert v[("a", "b")] == [v[("a",)][0], v[("b",)][0]] and v[("a",)] != v[("b",)] and v[("b", "a")][1] == v[("a",)][0]


def test_a_write_on_a_line_is_one_numerical_variable_and_a_mixture_decodes_as_its_larger_part():
    d = np.random.default_rng(1).normal(size=8)
    d /= np.linalg.norm(d)
    line = discovery._variable("n", "mlp0", 2, np.array([0.25 * k * d for k in range(5)]))
    assert line.var.kind == "numerical" and line.direction is not None
    e = np.eye(8)
    # two one-hot points and a point three quarters of the first (selector width's wide selections)
    cat = discovery._variable("c", "attn0", 1, np.array([e[0], e[1], 0.75 * e[0] + 0.25 * e[1], e[0]]))
    assert cat.var.kind == "categorical" and len(cat.centres) == 3
    mixed = discovery.read(cat, 0.75 * e[0] + 0.25 * e[1])
    assert cat.dominant[mixed] == discovery.read(cat, e[0]) != discovery.read(cat, e[1])


# -- heads: selections, rules, and what a head moves ---------------------------------------------------

def test_a_head_is_explained_by_its_selection_rule_and_the_value_it_moves():
    # "reverse": query position q selects the key whose index equals its opposite index
    pattern = np.zeros((4, 4))
    pattern[0, 0] = pattern[1, 3] = pattern[2, 2] = pattern[3, 1] = 1
    assert heads.selections(pattern) == ([[3], [2], [1]], False)
    assert heads.fit_rule({(1, 1): True, (1, 2): False, (2, 1): False}) == "=="
    assert heads.fit_rule({(1, 2): True, (2, 1): False, (1, 1): False}) == ">"
    assert heads.fit_rule({("a", 1): True, ("a", 2): False, ("b", 1): False, ("b", 2): True}) is None
    tokens = Variable("tokens", "categorical", (0, 1, 2), ("a", "b", "c"))
    indices = Variable("indices", "categorical", (3, 4, 5, 6), (0, 1, 2, 3))
    opp = Variable("opp", "categorical", (7, 8, 9, 10), (0, 1, 2, 3))
    out = Variable("v1", "categorical", (11, 12, 13), ("a", "b", "c"))
    probes_ = []
    for word in ("abc", "cab", "bca", "ab", "ba"):
        n = len(word)
        vals = {"tokens": [None, *word], "indices": [0, *range(n)], "opp": [None, *range(n - 1, -1, -1)],
                "v1": [None, *reversed(word)], "one": [1] * (n + 1)}
        sel = [[k for k in range(1, n + 1) if vals["indices"][k] == vals["opp"][q]] for q in range(1, n + 1)]
        probes_.append((vals, sel, False))
    step, why, factor = heads.explain_head(probes_, 1, 0, [out], [tokens, indices, opp])
    assert why is None and factor == 1 and (step.mode, step.value, step.out, step.rule) == ("pick", "tokens", "v1", "==")
    assert {step.query, step.key} == {"indices", "opp"}
    none, why, _ = heads.explain_head([], 1, 0, [out], [tokens])
    assert none is None and "no attention patterns" in why


# -- MLPs: tables, linear maps, constants -------------------------------------------------------------

def test_an_mlp_is_a_table_a_linear_map_or_a_constant():
    tokens = Variable("tokens", "categorical", (0, 1), ("a", "b"))
    num = Variable("n1", "numerical", (2,))
    v = Variable("v1", "categorical", (3, 4), ("x", "y"))
    w = Variable("w", "numerical", (5,))
    rows = [{"tokens": t, "n1": k, "v1": "x" if t == "a" else "y", "w": 2 * k + 1, "one": 1}
            for t in "ab" for k in (0, 1, 2)]
    step, _ = mlps.explain_mlp(rows, 0, v, [tokens, num], {"tokens": 0, "n1": 0})
    assert (step.inputs, step.table) == (["tokens"], {"a": "x", "b": "y"})
    step, _ = mlps.explain_mlp(rows, 0, w, [num], {"n1": 0})
    assert step.inputs == ["n1"] and step.linear == [2.0, 1.0]
    const, _ = mlps.explain_mlp([{"v1": "x", "tokens": t} for t in "ab"], 0, v, [tokens], {})
    assert const.inputs == [] and const.default == "x"
    none, why = mlps.explain_mlp([{"v1": "x", "tokens": "a"}, {"v1": "y", "tokens": "a"}], 2, v, [tokens], {})
    assert none is None and "not a function" in why


# -- program, coverage: the source runs, agrees, and finds what it has not seen ------------------------

def program() -> Program:
    return Program(steps=[MlpStep(0, "v1", ["tokens"], table={"a": "x"}, default="x"),
                          HeadStep(1, 0, "v2", "indices", "indices", "==", mode="pick", value="v1")],
                   output="v2")


def test_the_program_source_runs_as_recovered():
    prog = program()
    src = source(prog)
    assert trace(src, ["a", "b"]) == {"tokens": ["a", "b"], "indices": [0, 1], "one": [1, 1],
                                      "v1": ["x", "x"], "v2": ["x", "x"]}
    scope: dict = {}
    exec(src, scope)
    assert scope["f"](["b"]) == ["x"]


def test_coverage_checks_agreement_and_picks_inputs_that_reach_unseen_entries():
    prog, src = program(), source(program())
    observed = {("a",): {"v1": [None, "x"], "v2": [None, "x"]}, ("b",): {"v1": [None, "y"], "v2": [None, "y"]}}
    ok, total, bad = coverage.agreement(prog, src, observed)
    assert (ok, total, bad) == (1, 2, ["v1", "v2"])
    assert coverage.covering_inputs(prog, src, [("a",), ("b", "a"), ("b",)], 1) in ([("b", "a")], [("b",)])
    assert coverage.covering_inputs(prog, src, [("a",), ("a", "a")], 5) == []


# -- analysis and output: the whole reading on the synthetic model ------------------------------------

def test_analysis_decompiles_the_synthetic_model():
    assert stage_hooks(INFO) == [(resid(0, "pre"), 0), (mlp_out(0), 2)]
    inputs = [("a",), ("b",), ("a", "b"), ("b", "a"), ("b", "b")]
    obs = observations(inputs)
    variables = from_labels(LABELS, VOCAB)
    values = {x: read_all(variables, obs.get(x, final_resid(1))) for x in inputs}
    dec = decompile(INFO, obs, Reading(variables, {"tokens": 0, "indices": 0, "one": 0, "v1": 2}, values))
    assert dec.program.output == "v1" and not dec.program.unexplained
    [step] = dec.program.steps
    assert isinstance(step, MlpStep) and step.inputs == ["tokens"] and step.table == {"a": "x", "b": "y"}
    again = decompile_internals(INFO, observations(inputs))
    assert again.program.output == "v1"
    assert output_observations(dec, observations(inputs), 1)[("b", "a")] == ["y", "x"]


# -- rounds: which reads, within the episode's tool-call limit -------------------------------------------

def test_reads_stop_short_of_the_tool_call_limit_and_mark_their_phase():
    reqs = rounds.requests({**INFO, "heads": [(0, 0)]}, [("a",), ("b",)], [("a", "b")])
    # the scanned input: every stage's writes (a head: its layer's attention), the final residual stream
    # the labels name, and the patterns
    assert reqs[0] == (("a", "b"), (resid(0, "pre"), attn_out(0), mlp_out(0), final_resid(1), attn_pattern(0)))
    assert reqs[1] == (("a",), (final_resid(1), attn_pattern(0)))
    many = [((t, u), (final_resid(1),)) for t in "ab" for u in "ab"]
    obs = Observations(cap_chars=300)
    call = lambda name, args, i=0: {"id": f"c{i}", "name": name, "args": args}  # noqa: E731
    planned = len(rounds.plan(INFO, obs, many))
    assert planned > 2
    msg = rounds.read_message(call, INFO, obs, many, "Reading", used=5, budget=8, phase="cover")
    assert len(msg.tool_calls) == 8 - 1 - 5 and mark_of(msg) == {"phase": "cover"}
    assert len(rounds.read_message(call, INFO, obs, many, "Reading", used=20, budget=8).tool_calls) == 1
    full = observations([("a",)])
    assert rounds.missing(full, [(("a",), (final_resid(1),)), (("b",), (final_resid(1),))]) == \
        [(("b",), (final_resid(1),))]


def test_round_one_scans_every_stage_first():
    r1 = rounds.round1(INFO, [])
    assert not r1.scan_done and r1.probes == []
    # one input first (its reply measures every hook's size for the rest): every stage and the final
    # residual stream the labels name
    [(x, hooks)] = r1.requests
    assert x in r1.scan and hooks == (resid(0, "pre"), mlp_out(0), final_resid(1))
    raw = rounds.round1(RAW_INFO, [])
    # without labels: the final residual stream alone first (how dense it is bounds every component's
    # writes in the same basis) ...
    [(x, hooks)] = raw.requests
    assert x in raw.scan and hooks == (final_resid(1),)
    # ... then every component's writes (the token and position embeddings apart) and the MLP's hidden
    # activations, in calls sized from it (the final residual stream is not read again)
    data = {"hooks": [final_resid(1)], "residual_labels": [f"d{i}" for i in range(8)],
            "inputs": [{"input": list(x), "acts": {final_resid(1): activations.sparse(_tensor(resid_of(x)))}}]}
    first = Result("get_activations", {"hook": final_resid(1), "input": [list(x)], "format": "json"}, True, data)
    raw = rounds.round1(RAW_INFO, [first])
    read = rounds.observe([first], RAW_INFO)
    hooks = {h for again, hs in rounds.missing(read, raw.requests) if again == x for h in hs}
    assert {EMBED, POS_EMBED, mlp_out(0), post_hook(0)} <= hooks and final_resid(1) not in hooks
    # what the scan still asks for on that input fits one call (each input read once)
    assert len(rounds.plan(RAW_INFO, read, raw.requests)) == 1


def test_inputs_too_long_to_read_at_all_are_left_out_after_a_refusal():
    """A wide model in a dense basis: one hook on one long input is over the cap. Later reads use
    inputs short enough, and nothing asks for the long one again (no turn without a call)."""
    refused = Result("get_activations", {"hook": mlp_out(0), "input": [["a", "b"]], "format": "json"}, False,
                     {"refused": "cap", "cap_chars": 400})
    obs = rounds.observe([refused], RAW_INFO)
    assert obs.too_long == 2 and rounds.read_len(RAW_INFO, obs) == 1
    r1 = rounds.round1(RAW_INFO, [refused])
    assert r1.scan and all(len(x) == 1 for x in r1.scan)
    assert rounds.missing(obs, [(("a", "b"), (mlp_out(0),)), (("a",), (mlp_out(0),))]) == [(("a",), (mlp_out(0),))]
    # a refusal of several hooks or inputs at once says nothing about what one hook on one input costs
    several = Result("get_activations", {"hook": f"{mlp_out(0)},{EMBED}", "input": [["a", "b"]], "format": "json"},
                     False, {"refused": "cap", "cap_chars": 400})
    assert rounds.observe([several], RAW_INFO).too_long is None


def test_coverage_seeks_what_tells_the_program_apart_from_what_fits_as_well():
    """Unseen entries: a value moved only where a head selects it; an output value the (label-free)
    output map lacks; an input on which another MLP input set that fits the observations reaches an
    entry it never observed, or predicts otherwise."""
    pick = HeadStep(1, 0, "h", query="qv", key="kv", rule="==", mode="pick", value="mv", vmap={0: 0, 1: 1})
    prog = Program(steps=[pick], output="h", output_map={0: "x"}, output_open=True)
    got = {"qv": [0, 1], "kv": [0, 1], "mv": [1, 2], "h": [1, None]}
    # query 1 selects key 1, where mv holds 2: never seen moved
    assert (0, ("moved", 2)) in coverage.unseen_keys(prog, got)
    got = {"qv": [0, 0], "kv": [0, 1], "mv": [1, 2], "h": [1, 1]}  # key 1 (mv = 2) is never selected
    assert coverage.unseen_keys(prog, got) == {("output", 1)}  # 1 has no column in the output map
    prog.output_open = False
    assert coverage.unseen_keys(prog, got) == set()
    mlp = MlpStep(2, "o", ["a"], table={0: 0, 1: 1}, alternatives=[(["b"], {0: 0, 1: 1})])
    prog = Program(steps=[mlp], output="o")
    assert coverage.unseen_keys(prog, {"a": [0, 1], "b": [0, 1], "o": [0, 1]}) == set()
    # b was never seen at 2; and where a = 0 and b = 1 the two sets predict differently
    assert coverage.unseen_keys(prog, {"a": [0], "b": [2], "o": [0]}) == {(0, ("alternative", 0, 2, 0))}
    assert coverage.unseen_keys(prog, {"a": [0], "b": [1], "o": [0]}) == {(0, ("alternative", 0, 1, 0))}


def test_coverage_seeks_inputs_telling_apart_head_rules_that_fit_as_well():
    """A head whose selections two (query, key) pairs explain on the probes: an input where the other
    pair meets a (query, key) value pair never observed, or selects otherwise, is sought."""
    head = HeadStep(1, 0, "h", query="qv", key="kv", rule="==", mode="width",
                    alternatives=[("qv", "jv", "table", {(0, 0): True, (0, 1): False})])
    prog = Program(steps=[head], output="h")
    same = {"qv": [0, 0], "kv": [0, 1], "jv": [0, 1], "h": [0.5, 0.5]}
    assert coverage.unseen_keys(prog, same) == set()
    other = {"qv": [0, 0], "kv": [0, 1], "jv": [1, 0], "h": [0.5, 0.5]}  # the two rules select otherwise
    assert (0, ("alternative", 0, (0, 1), (0, 0))) in coverage.unseen_keys(prog, other)
    new = {"qv": [0], "kv": [0], "jv": [2], "h": [0.5]}  # (0, 2) never observed by the other rule
    assert coverage.unseen_keys(prog, new) == {(0, ("alternative", 0, (0, 2), (0, 0)))}


def test_a_selector_width_read_through_soft_attention_is_the_width_the_selection_gives():
    """Attention leaking a little weight past BOS writes 0.867 where the selection says 1/(0+1): still
    a selector width (as its MLP reads it, by thresholds half-way); a value nearer another width's
    fraction is not."""
    out = Variable("h", "numerical", (), ())
    sel = [[], [1], [1, 2]]
    soft = [({"h": [None, 0.8667, 0.5, 1 / 3]}, sel)]
    assert heads.explain_value(soft, out, [], width_mode=True) == ("width", None, {}, None, 1.0)
    wrong = [({"h": [None, 0.6, 0.5, 1 / 3]}, sel)]  # 0.6 is nearer 1/2 than 1
    assert heads.explain_value(wrong, out, [], width_mode=True) is None


def test_an_mlp_never_seen_writing_is_probed_where_its_latest_inputs_meet_anew():
    """A non-empty MLP that wrote one value on every observation: what it computes was not seen. The
    two latest variables it may read are kept, and an input where they meet in a combination never
    observed is sought (a difference of two numbers that were always equal on the probes)."""
    a, b, c = (Variable(n, "numerical", (), ()) for n in ("a", "b", "c"))
    out = Variable("o", "numerical", (), ())
    rows = [{"a": 1.0, "b": x, "c": x, "o": 0.0} for x in (0.0, 1.0)]
    step, why = mlps.explain_mlp(rows, 3, out, [a, b, c], {"a": 1, "b": 4, "c": 5})
    assert why is None and step.inputs == [] and step.alternatives == [(["b", "c"], {(0.0, 0.0): 0.0, (1.0, 1.0): 0.0})]
    prog = Program(steps=[step], output="o")
    assert coverage.unseen_keys(prog, {"a": [1.0], "b": [1.0], "c": [1.0], "o": [0.0]}) == set()
    assert coverage.unseen_keys(prog, {"a": [1.0], "b": [1.0], "c": [0.0], "o": [0.0]}) == \
        {(0, ("alternative", 0, (1.0, 0.0), None))}


def test_a_head_moves_the_variable_whose_values_it_keeps():
    """Two earlier variables, one a renaming of the other (a map (x + 1) % 2 of it): the head's
    aggregate moves the one whose values it writes as they are, whichever is listed first."""
    out = Variable("h", "categorical", (), (0, 1))
    w = Variable("w", "categorical", (), (0, 1))
    m = Variable("m", "categorical", (), (0, 1))
    probes_ = [({"w": [None, 0, 1], "m": [None, 1, 0], "h": [None, 1, 0]}, [[1], [2]])]
    assert heads.explain_value(probes_, out, [w, m], width_mode=False) == ("pick", "m", {}, None, 1.0)
