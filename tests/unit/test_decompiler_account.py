"""The decompiler's account (agent/investigators/decompiler/account.py) of recovered programs built by
hand the way the decompiler recovers tracr's: selector widths as 1/(w+1) and a decoding MLP, tables
for every MLP, a head's rule as a table, an ordinal output map. The account names the primitives,
the variables by role, gives the conventional label where there is one, says what before how, and
computes what the recovered program computes (or keeps the tables where it would not)."""

from __future__ import annotations

import itertools

from tracr_agent.agent.investigators.decompiler.account import account
from tracr_agent.agent.investigators.decompiler.mlps import key_of
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep, Program, source
from tracr_agent.agent.scoring.explanation import steps_and_tables

VOCAB = ("a", "b", "c")
MAX_LEN = 5


def inputs(vocab=VOCAB, max_len=MAX_LEN) -> list[tuple]:
    return [x for n in range(1, max_len + 1) for x in itertools.product(vocab, repeat=n)]


def frac(w: int) -> float:
    """A selector width's attention output for w selected keys, as the decompiler records it."""
    return key_of((1 / (w + 1),))


def width(out: str, query: str, key: str, rule: str, layer: int = 0, table: dict = None) -> HeadStep:
    return HeadStep(layer, 0, out, query, key, rule, table=table or {}, mode="width")


def run(src: str, x) -> list:
    scope: dict = {}
    exec(src, scope)
    return scope["f"](list(x))


def same_as_recovered(told, prog: Program, xs) -> None:
    for x in xs:
        assert run(told.implementation, x) == run(source(prog), x), x


def reverse_program() -> Program:
    """tracr's make_reverse: length by selector width, opp_index = length - indices - 1 in two MLPs
    (both reading the width's fraction), then the token at opp_index."""
    ns = range(1, MAX_LEN + 1)
    return Program(steps=[
        width("v1.sw", "indices", "indices", "true"),
        MlpStep(0, "v1", ["v1.sw"], table={frac(n): n for n in ns}, default=5),
        MlpStep(1, "v3", ["indices", "v1.sw"], table={(i, frac(n)): n - i for n in ns for i in range(n)}, default=1),
        MlpStep(2, "v2", ["v3"], table={d: d - 1 for d in ns}, default=0),
        HeadStep(3, 0, "v4", "indices", "v2", "==", mode="pick", value="tokens"),
    ], output="v4")


def test_reverse_reads_as_rasp_with_a_conventional_name():
    prog = reverse_program()
    told = account(prog, inputs())
    assert told.label == "reverse" and not told.kept_tables
    assert told.description.startswith("What it computes: reverse — at each position i of an input of length n, "
                                       "the token at position n - 1 - i.")
    assert "layer 0 head 0.0, layer 0 MLP" in told.description  # the width and its decoding MLP: one step
    src = told.implementation
    assert "length = SelectorWidth(Select(indices, indices, lambda k, q: True))" in src
    assert "mirror_index = Map(lambda x: x - 1, length_minus_index)" in src
    assert "reverse = Aggregate(Select(mirror_index, indices, lambda k, q: k == q), tokens)" in src
    assert "{" not in src.split("def f(")[1]  # no table left
    assert steps_and_tables(src) == (4, 0)
    assert run(src, "abc") == ["c", "b", "a"]
    same_as_recovered(told, prog, inputs())


def test_a_label_free_output_map_folds_into_the_count():
    """Raw residual: the width's MLP writes the ordinal w - 1, mapped onto the output values 1..n."""
    prog = Program(steps=[width("r2", "indices", "indices", "true"),
                          MlpStep(0, "r1", ["r2"], table={frac(n): n - 1 for n in range(1, 6)}, default=4)],
                   output="r1", output_map={o: o + 1 for o in range(5)})
    told = account(prog, inputs())
    assert told.label == "length"
    assert "length = SelectorWidth(Select(indices, indices, lambda k, q: True))" in told.implementation
    assert "OUTPUT" not in told.implementation and steps_and_tables(told.implementation) == (1, 0)
    assert run(told.implementation, "abca") == [4, 4, 4, 4]


def test_a_running_fraction_reads_the_indicator_it_averages_and_unused_steps_are_left_out():
    prog = Program(steps=[
        MlpStep(0, "v2", ["tokens"], table={"a": 1.0, "b": 0.0, "c": 0.0}, default=0.0),
        MlpStep(0, "v5", ["tokens"], table={"a": "p", "b": "q", "c": "p"}, default="p"),  # read by nothing
        HeadStep(1, 0, "v1", "indices", "indices", "<=", mode="mean", value="tokens", indicator="a"),
    ], output="v1", numerical_output=True)
    told = account(prog, inputs())
    assert told.label == "fraction of previous tokens that are 'a'"
    assert "is_token_a = Map(lambda t: float(t == 'a'), tokens)" in told.implementation
    assert "Mean(Select(indices, indices, lambda k, q: k <= q), is_token_a)" in told.implementation
    assert "v5" not in told.implementation and "left out" in told.description
    assert run(told.implementation, "aba") == [1.0, 0.5, 2 / 3]


def test_a_head_rule_table_becomes_the_previous_position():
    table = {(q, k): k == q - 1 for q in range(MAX_LEN) for k in range(MAX_LEN)}
    prog = Program(steps=[HeadStep(0, 0, "v1", "indices", "indices", "table", table=table, mode="pick",
                                   value="tokens")], output="v1")
    told = account(prog, inputs())
    assert told.label == "previous token"
    assert "previous_token = Aggregate(Select(indices, indices, lambda k, q: k == q - 1), tokens)" in told.implementation
    assert "at position i - 1" in told.description
    assert run(told.implementation, "abc") == [None, "a", "b"]


def test_a_comparison_fills_pairs_a_head_was_never_seen_comparing():
    """A head's rule observed on positions 0..3 only (the probes were short): on those pairs it is
    k == q - 1, and on longer inputs the recovered table would say "not selected" for pairs it never saw
    — a guess. The account writes the comparison, which extends to them, rather than keeping the table."""
    seen = range(4)
    table = {(q, k): k == q - 1 for q in seen for k in seen}
    prog = Program(steps=[HeadStep(0, 0, "v1", "indices", "indices", "table", table=table, mode="pick",
                                   value="tokens")], output="v1")
    told = account(prog, inputs())
    assert told.kept_tables == ()
    assert "lambda k, q: k == q - 1" in told.implementation
    assert run(told.implementation, "abcab") == [None, "a", "b", "c", "a"]


def test_a_sort_by_rank_is_named_sort():
    """tracr's make_sort: key = token + index / max_len, rank = how many keys are smaller, then the
    token whose rank is this position."""
    ranks = range(MAX_LEN)
    prog = Program(steps=[
        MlpStep(0, "v1", ["tokens", "indices"], table={(t, i): t + i / 5 for t in (1, 2, 3) for i in range(5)},
                default=1.0),
        width("v3.sw", "v1", "v1", "<", layer=1),
        MlpStep(1, "v3", ["v3.sw"], table={frac(w): w for w in ranks}, default=0),
        HeadStep(2, 0, "v2", "indices", "v3", "==", mode="pick", value="tokens"),
    ], output="v2")
    told = account(prog, inputs((1, 2, 3)))
    assert told.label == "sort"
    assert "rank = SelectorWidth(Select(" in told.implementation
    assert run(told.implementation, (3, 1, 2, 1)) == [1, 1, 2, 3]


def test_counting_tests_and_their_names():
    """'no token differs from this one' is the all-equal check; a filter count is a count of a token."""
    prog = Program(steps=[width("v2.sw", "tokens", "tokens", "!="),
                          MlpStep(0, "v1", ["v2.sw"], table={frac(w): w == 0 for w in range(MAX_LEN)}, default=False)],
                   output="v1")
    told = account(prog, inputs())
    assert told.label == "all tokens equal"
    assert "count_of_other_tokens = SelectorWidth(Select(tokens, tokens, lambda k, q: k != q))" in told.implementation
    assert "all_tokens_equal = Map(lambda x: x == 0, count_of_other_tokens)" in told.implementation
    count_a = {(q, t): t == "a" for q in range(MAX_LEN) for t in VOCAB}
    prog = Program(steps=[width("v1.sw", "indices", "tokens", "table", table=count_a),
                          MlpStep(0, "v1", ["v1.sw"], table={frac(w): w for w in range(MAX_LEN + 1)}, default=0)],
                   output="v1")
    told = account(prog, inputs())
    assert told.label == "count of token 'a'"
    assert "SelectorWidth(Select(tokens, indices, lambda k, q: k == 'a'))" in told.implementation


def test_a_primitive_that_differs_off_the_recovered_entries_keeps_its_table():
    """The map was only seen on tokens 0 and 1: x + 1 fits them, but on token 2 the recovered table reads
    the nearest entry (as tracr's numerical MLPs do). The account keeps the table so that what it
    submits computes what was recovered."""
    prog = Program(steps=[MlpStep(0, "v1", ["tokens"], table={0: 1, 1: 2}, default=1)], output="v1")
    told = account(prog, inputs((0, 1, 2), 3))
    assert told.kept_tables == ("v1",)
    assert "lookup(" in told.implementation and "(a table: no simpler rule" in told.description
    same_as_recovered(told, prog, inputs((0, 1, 2), 3))
    assert account(prog, inputs((0, 1), 3)).kept_tables == ()  # on the domain it was seen on, x + 1 stands


def test_without_a_conventional_name_the_label_is_the_kind_and_formula():
    prog = Program(steps=[MlpStep(0, "v1", ["tokens", "indices"], table={(t, i): t * i for t in (1, 2) for i in range(5)},
                                  default=0)], output="v1")
    told = account(prog, inputs((1, 2)))
    assert told.label == "elementwise: t[i] * i"
    assert "token_times_index = SequenceMap(lambda t, i: t * i, tokens, indices)" in told.implementation


def test_running_fractions_of_an_opener_minus_a_closer_are_a_balance():
    prog = Program(steps=[
        HeadStep(0, 0, "v3", "indices", "indices", "<=", mode="mean", value="tokens", indicator=")"),
        HeadStep(0, 1, "v4", "indices", "indices", "<=", mode="mean", value="tokens", indicator="("),
        MlpStep(0, "v5", ["v3", "v4"], linear=[-1.0, 1.0, 0.0], default=0.0),
    ], output="v5", numerical_output=True)
    told = account(prog, inputs(("(", ")", "x")))
    assert told.label == "running balance of parentheses"
    assert "balance = SequenceMap(lambda x, y: y - x, running_frac_close, running_frac_open)" in told.implementation
    assert run(told.implementation, "(()") == [1.0, 1.0, 1 / 3]
