"""Naming the values of a variable found without a basis, from how the heads that read it select.

A categorical variable found as a component's points has values without names or order (a rotation
keeps none). A head that compares it tells more: when its selections over (query value, key value)
are a comparison under *some* order of the values, that order is read off the selections
(`order_of`: every observed pair says which of its two values comes first), and the values are
renumbered in it, so the head's rule becomes `<` (or `<=`) and generalizes to pairs never observed.
When a head matches the variable against a variable whose values are known (the input token or its
position) one to one, or selects every pair but such a matching, its values are named by those
(`names_from_match`; a value matched with none gets a name no known value has), and the rule becomes
`==` (or `!=`).
"""

from __future__ import annotations

from typing import Optional


def order_of(table: dict) -> Optional[tuple[list, bool]]:
    """(the values in an order under which `table` — (query value, key value) -> selected, over one
    variable's values — is `k < q` (or `k <= q` when a value selects itself), whether every pair of
    values is ordered by what was observed); None when no order makes it a comparison."""
    diag = {q: s for (q, k), s in table.items() if q == k}
    if diag and len(set(diag.values())) != 1:
        return None
    values = sorted({v for pair in table for v in pair}, key=repr)
    after = _after(table, values)
    order, unique = [], True
    indegree = {v: 0 for v in values}
    for v in values:
        for w in after[v]:
            indegree[w] += 1
    ready = [v for v in values if indegree[v] == 0]
    while ready:
        unique = unique and len(ready) == 1
        v = ready.pop(0)
        order.append(v)
        for w in sorted(after[v], key=repr):
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    if len(order) != len(values):  # a cycle: no order
        return None
    if len(order) < 3:  # two values always have an order: it says nothing
        return None
    return order, unique


def _after(table: dict, values) -> dict:
    """value -> the values each observed comparison in `table` puts after it (selected: k < q; not
    selected: k > q)."""
    after: dict = {v: set() for v in values}
    for (q, k), s in table.items():
        if q != k and q in after and k in after:
            first, second = (k, q) if s else (q, k)
            after[first].add(second)
    return after


def names_from_match(table: dict, known_is_query: bool) -> Optional[dict]:
    """Value -> name for the unnamed side of a head whose selections pair it one to one with a variable
    of known values (each unnamed value selected with exactly one known value, distinct ones: `==`),
    or whose selections leave out such pairs (`!=`); None when the selections are neither. Values
    paired with no known value are not named here."""
    return _matching(table, known_is_query) or _matching({k: not s for k, s in table.items()}, known_is_query)


def _matching(table: dict, known_is_query: bool) -> Optional[dict]:
    pairs: dict = {}
    for (q, k), s in table.items():
        if not s:
            continue
        known, unknown = (q, k) if known_is_query else (k, q)
        if pairs.setdefault(unknown, known) != known:
            return None
    if len(set(pairs.values())) != len(pairs) or len(pairs) < 2:
        return None
    for (q, k), s in table.items():  # not a matching if a value pair left unselected should have been
        known, unknown = (q, k) if known_is_query else (k, q)
        if not s and pairs.get(unknown) == known:
            return None
    return pairs


def open_pairs(table: dict, order: list) -> set:
    """The pairs of values (a, b), a before b in `order`, that no chain of observed comparisons in `table`
    orders: the order read from it could have them the other way round, and an input holding both at
    once shows which comes first."""
    after = _after(table, order)
    reach: dict = {}
    for v in reversed(order):  # what follows v, directly or through others (the order is a topological one)
        reach[v] = set(after[v])
        for w in after[v]:
            reach[v] |= reach.get(w, set())
    return {(a, b) for i, a in enumerate(order) for b in order[i + 1:] if b not in reach[a]}
