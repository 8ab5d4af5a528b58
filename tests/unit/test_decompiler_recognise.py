"""The recogniser (agent/investigators/decompiler/recognise.py) on tables built from known primitives:
each comes back as a primitive that gives every entry, and near-misses — one entry changed — stay
tables. No model: the tables are what the decompiler recovers from one (an MLP's map, a head's rule)."""

from __future__ import annotations

import itertools

import pytest

from tracr_agent.agent.investigators.decompiler.primitives import evaluate, python
from tracr_agent.agent.investigators.decompiler.recognise import holds, recognise_map, recognise_rule

POS = range(6)
LETTERS = ("a", "b", "c", "d")


def one(fn, domain) -> dict:
    return {x: fn(x) for x in domain}


def two(fn, xs, ys) -> dict:
    return {(x, y): fn(x, y) for x, y in itertools.product(xs, ys)}


def rule(fn, queries, keys) -> dict:
    return {(q, k): bool(fn(k, q)) for q in queries for k in keys}


MAPS = [  # (table, arity, the Python the recogniser should write over x, y)
    (one(lambda x: x + 3, range(5)), 1, "x + 3"),
    (one(lambda x: x - 1, range(1, 6)), 1, "x - 1"),
    (one(lambda x: 4 - x, range(5)), 1, "4 - x"),
    (one(lambda x: 3 * x, range(5)), 1, "3 * x"),
    (one(lambda x: x / 4, range(5)), 1, "x / 4"),
    (one(lambda x: x % 3, range(7)), 1, "x % 3"),
    (one(lambda x: x // 2, range(7)), 1, "x // 2"),
    (one(lambda x: (x + 1) % 4, range(7)), 1, "(x + 1) % 4"),
    (one(lambda x: min(x, 2), range(6)), 1, "min(x, 2)"),
    (one(lambda x: max(x, 3), range(6)), 1, "max(x, 3)"),
    (one(lambda x: abs(x - 2), range(6)), 1, "abs(x - 2)"),
    (one(lambda x: x % 2, range(6)), 1, "x % 2"),
    (one(lambda x: x % 2 == 0, range(6)), 1, "x % 2 == 0"),
    (one(lambda x: x > 2, range(6)), 1, "x > 2"),
    (one(lambda x: 1 if x >= 3 else 0, range(6)), 1, "int(x > 2)"),
    (one(lambda x: 1.0 if x < 0 else 0.0, (-1.0, -0.5, -1 / 3, 0.0, 0.25, 0.5)), 1, "float(x < 0)"),
    (one(lambda x: x == 0.0, (-0.5, 0.0, 0.25, 1.0)), 1, "x == 0.0"),
    (one(lambda x: x == 2, range(5)), 1, "x == 2"),
    (one(lambda x: x != 0, range(5)), 1, "x != 0"),
    (one(lambda x: x, LETTERS), 1, "x"),
    (one(lambda x: x == "b", LETTERS), 1, "x == 'b'"),
    (one(lambda x: x in ("(", "{"), ("(", ")", "{", "}")), 1, "x in {'(', '{'}"),
    (one(lambda x: LETTERS.index(x), LETTERS), 1, "ord(x) - ord('a')"),
    (one(lambda x: "abcdefgh"[x], range(5)), 1, "chr(ord('a') + x)"),
    (one(lambda x: "x", LETTERS), 1, "'x'"),
    (one(lambda x: x * x, range(5)), 1, "x * x"),
    (one(lambda b: not b, (True, False)), 1, "not x"),
    (two(lambda x, y: x + y, range(4), range(5)), 2, "x + y"),
    (two(lambda x, y: y - x - 1, range(5), range(1, 7)), 2, "y - x - 1"),
    (two(lambda t, i: t + i / 5, range(1, 5), range(5)), 2, "x + y / 5"),
    (two(lambda i, n: (i + 1) % n, range(5), range(1, 6)), 2, "(x + 1) % y"),
    (two(lambda x, y: x == y, LETTERS, LETTERS), 2, "x == y"),
    (two(lambda x, y: x < y, range(4), range(4)), 2, "x < y"),
    (two(lambda x, y: max(x, y), range(4), range(4)), 2, "max(x, y)"),
    (two(lambda x, y: x and y, (True, False), (True, False)), 2, "x and y"),
    (two(lambda x, y: x or y, (True, False), (True, False)), 2, "x or y"),
    (two(lambda x, y: (x, y), LETTERS, range(3)), 2, "(x, y)"),
    (one(lambda p: p[0] + p[1], list(itertools.product(range(3), range(4)))), 1, "x[0] + x[1]"),
]


@pytest.mark.parametrize("table, arity, code", MAPS, ids=[m[2] for m in MAPS])
def test_a_map_built_from_a_primitive_is_written_as_it(table, arity, code):
    e = recognise_map(table, arity)
    assert e is not None, table
    assert python(e, ["x", "y"]) == code
    for key, value in table.items():  # and it gives every entry (the recogniser's own guarantee, re-checked)
        got = evaluate(e, (key,) if arity == 1 else key)
        assert got == value and isinstance(got, bool) == isinstance(value, bool)


NEAR_MISSES = [  # one entry off a primitive: nothing simple gives every entry, the table stays
    {**one(lambda x: x + 3, range(5)), 2: 6},
    {**one(lambda x: x % 3, range(9)), 7: 0},
    {**one(lambda x: x > 2, range(6)), 1: True},  # true on 1 and 3..5: not a threshold, not parity
    {**two(lambda x, y: x + y, range(4), range(4)), (2, 2): 5},
    {0: "q", 1: "z", 2: "q", 3: "q", 4: "z", 5: "z", 6: "z"},  # an arbitrary two-valued output
    one(lambda x: {"a": 3, "b": 0, "c": 2, "d": 1}[x], LETTERS),  # an arbitrary relabelling
]


@pytest.mark.parametrize("table", NEAR_MISSES)
def test_a_near_miss_stays_a_table(table):
    arity = 2 if isinstance(next(iter(table)), tuple) else 1
    assert recognise_map(table, arity) is None


def test_a_missing_input_must_give_a_missing_output():
    table = {**two(lambda x, y: x and y, (True, False), (True, False)), (True, None): None, (None, None): None}
    assert python(recognise_map(table, 2), ["x", "y"]) == "x and y"
    assert recognise_map({**table, (True, None): False}, 2) is None  # None in, a value out: no primitive does that


RULES = [  # (table (query value, key value) -> selected, the predicate over k, q)
    (rule(lambda k, q: k == q - 1, POS, POS), "k == q - 1"),
    (rule(lambda k, q: k == q + 1, POS, POS), "k == q + 1"),
    (rule(lambda k, q: k == q - 2, POS, POS), "k == q - 2"),
    (rule(lambda k, q: k == 0, POS, POS), "k == 0"),
    (rule(lambda k, q: k <= q, POS, POS), "k <= q"),
    (rule(lambda k, q: k < q, LETTERS, LETTERS), "k < q"),
    (rule(lambda k, q: k != q, LETTERS, LETTERS), "k != q"),
    (rule(lambda k, q: k == q ^ 1, POS, POS), "k == q ^ 1"),
    (rule(lambda k, q: k == "a", POS, LETTERS), "k == 'a'"),
    (rule(lambda k, q: k <= 2, POS, range(1, 7)), "k <= 2"),
    (rule(lambda k, q: k, POS, (True, False)), "k"),
    (rule(lambda k, q: True, POS, POS), "True"),
    (rule(lambda k, q: k[1] <= q and k[0] == "a", POS, list(itertools.product("abc", POS))), "k[1] <= q and k[0] == 'a'"),
    (rule(lambda k, q: k[0] == q[0] and k[1] < q[1], list(itertools.product("abc", range(4))),
          list(itertools.product("abc", range(4)))), "k[0] == q[0] and k[1] < q[1]"),
]


@pytest.mark.parametrize("table, code", RULES, ids=[r[1] for r in RULES])
def test_a_selection_built_from_a_comparison_is_written_as_it(table, code):
    pred = recognise_rule(table)
    assert pred is not None
    assert python(pred, ["k", "q"]) == code
    assert all(holds(pred, k, q) == s for (q, k), s in table.items())


def test_a_selection_no_comparison_gives_stays_a_table():
    table = rule(lambda k, q: k == q - 1, POS, POS)
    table[(3, 0)] = True  # position 3 also reads position 0
    assert recognise_rule(table) is None
    scattered = {(q, k): (q * 7 + k * 3) % 5 == 0 for q in POS for k in POS}
    assert recognise_rule(scattered) is None
