"""How readable a submitted implementation is, measured statically (agent/scoring/explanation.py):
its steps, the steps that keep a literal table, and the description's length — the figures the
report's explanations table pools per investigator."""

from __future__ import annotations

import pytest

from tracr_agent.agent.scoring.explanation import explain, steps_and_tables

NAMED = '''
def Select(keys, queries, predicate):
    return [[j for j, k in enumerate(keys) if predicate(k, q)] for q in queries]

def f(tokens):
    tokens = list(tokens)
    indices = list(range(len(tokens)))
    length = [len(s) for s in Select(indices, indices, lambda k, q: True)]
    mirror = [n - 1 - i for n, i in zip(length, indices)]
    return [tokens[m] for m in mirror]
'''
TABLES = '''
MAP_V1 = {0.5: 1, 0.333: 2, 0.25: 3}
NESTED = {0: {1: 2}, 1: {1: 3, 2: 4}}

def f(tokens):
    n = len(tokens)
    v1 = [MAP_V1.get(1 / (n + 1))] * n
    v2 = [NESTED[i].get(v) for i, v in enumerate(v1)]
    v3 = [{"a": "x", "b": "y"}.get(t) for t in tokens]
    out = []
    for v in v2:
        out.append({2: True, 3: False}.get(v))
    return out
'''
DELEGATES = '''
def run(tokens):
    v1 = [{"a": 1, "b": 2}[t] for t in tokens]
    v2 = [x + 1 for x in v1]
    return {"v1": v1, "v2": v2}

def f(tokens):
    return run(tokens)["v2"]
'''


@pytest.mark.parametrize("src, steps, tables", [
    (NAMED, 3, 0),  # the preamble (list(tokens), the indices) is the input, not a step; the return computes
    (TABLES, 4, 4),  # v1, v2 (nested: one table), v3 read tables; the loop's table counts as one more step
    (DELEGATES, 3, 1),  # f only delegates: run's steps (and its return of a dict of names) are f's
    ("def f(tokens):\n    return tokens[::-1]\n", 1, 0),
    ("def f(tokens):\n    return tokens\n", 0, 0),
])
def test_steps_and_the_steps_that_keep_a_table(src, steps, tables):
    assert steps_and_tables(src) == (steps, tables)


def test_no_f_or_no_python_has_no_steps():
    assert steps_and_tables("def g(tokens):\n    return tokens\n") == (None, None)
    assert steps_and_tables("def f(:") == (None, None)
    assert steps_and_tables(None) == (None, None)


def test_the_explanation_carries_them_with_the_description_length():
    ex = explain(TABLES, ["a", "b"], 3, description="What it computes: a mapping. How: three tables.")
    assert (ex.steps, ex.table_steps, ex.description_words) == (4, 4, 8)
    assert explain(NAMED, ["a"], 3).description_words is None
