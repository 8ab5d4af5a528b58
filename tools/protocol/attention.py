"""attention_pattern's interpretation line: every rule consistent with the pattern shown.

One input rarely pins a head down: on a sorted input "keys < i" and "the keys whose token is < the
query's token" select the same keys, on two tokens "the previous position" and "wrapping around"
coincide. `describe_pattern` tries every rule it knows (positional maps, relations between query and
key tokens and positions, fixed tokens) and lists each one the pattern fits, with a warning when
several do, so an investigator tests them on other inputs instead of taking the first for the truth.
A pattern no rule fits is written out (query->key pairs, or the weights of a mixed one).
"""

from __future__ import annotations

from tracr_agent.tools.protocol.values import fmt_num

ONE_HOT = 0.9
"""A query whose largest weight reaches this attends to that one key."""


def _key(j: int) -> str:
    return "BOS" if j == 0 else str(j)


def _keyset(s) -> str:
    return "{" + ",".join(_key(j) for j in sorted(s)) + "}" if s else "BOS only"


def _map_rules(a: dict[int, int], n: int) -> list[str]:
    """The positional rules a one-hot pattern fits (query q attends only to key a[q]; 0 = BOS)."""
    qs = range(1, n + 1)
    rules = []
    if all(a[q] == 0 for q in qs):
        return ["all queries attend to BOS"]
    if all(a[q] == q for q in qs):
        rules.append("each query attends to its own position (key i)")
    if n >= 2 and all(a[q] == n + 1 - q for q in qs):
        rules.append(f"query i attends to key n+1-i (anti-diagonal; n = {n} here)")
    for d in sorted(range(-(n - 1), n), key=lambda d: (abs(d), d)):
        if d != 0 and all(a[q] == (q + d if 1 <= q + d <= n else 0) for q in qs):
            name = {-1: " (the previous position)", 1: " (the following position)"}.get(d, "")
            tail = "; queries with no such key attend to BOS" if any(a[q] == 0 for q in qs) else ""
            rules.append(f"query i attends to key i{d:+d}{name}{tail}")
    for d in sorted(range(1, n), key=lambda d: (min(d, n - d), d > n - d)):
        if all(a[q] == (q - 1 + d) % n + 1 for q in qs):
            rules.append(f"query i attends to key i+{d}, wrapping around past the end (query {n} -> key {d})"
                         if d <= n - d else
                         f"query i attends to key i-{n - d}, wrapping around past the start (query 1 -> key {a[1]})")
    if n >= 2 and len({a[q] for q in qs}) == 1:
        rules.append(f"all queries attend to key {_key(a[1])}")
    return rules


def _relations(toks: list, n: int):
    """Candidate key sets per query: (description, {q: set of keys})."""
    qs = range(1, n + 1)
    ks = range(1, n + 1)
    yield "all keys", {q: set(ks) for q in qs}
    yield "keys <= i (prefix)", {q: set(range(1, q + 1)) for q in qs}
    yield "keys >= i (suffix)", {q: set(range(q, n + 1)) for q in qs}
    yield "keys < i", {q: set(range(1, q)) for q in qs}
    yield "keys > i", {q: set(range(q + 1, n + 1)) for q in qs}
    yield "the keys holding the same token as the query", {q: {k for k in ks if toks[k] == toks[q]} for q in qs}
    yield ("the keys <= i holding the same token as the query",
           {q: {k for k in ks if k <= q and toks[k] == toks[q]} for q in qs})
    yield ("the keys < i holding the same token as the query",
           {q: {k for k in ks if k < q and toks[k] == toks[q]} for q in qs})
    yield "the keys holding a different token from the query", {q: {k for k in ks if toks[k] != toks[q]} for q in qs}
    try:
        for op, f in (("<", lambda a, b: a < b), ("<=", lambda a, b: a <= b),
                      (">", lambda a, b: a > b), (">=", lambda a, b: a >= b)):
            yield f"the keys whose token is {op} the query's token", {q: {k for k in ks if f(toks[k], toks[q])} for q in qs}
        yield ("the keys whose (token, position) is < the query's (smaller token, ties broken by position)",
               {q: {k for k in ks if (toks[k], k) < (toks[q], q)} for q in qs})
        yield ("the keys whose (token, position) is > the query's (larger token, ties broken by position)",
               {q: {k for k in ks if (toks[k], k) > (toks[q], q)} for q in qs})
    except TypeError:  # tokens of mixed types do not compare
        return
    for t in sorted(set(toks[1:]), key=str):
        yield f"the keys holding token {t}", {q: {k for k in ks if toks[k] == t} for q in qs}


def _relation_rules(support: dict[int, set], toks: list, n: int, one_hot: bool) -> list[str]:
    """The relations whose key sets are exactly the keys each query attends to (BOS aside)."""
    qs = range(1, n + 1)
    keys = {q: support[q] - {0} for q in qs}
    with_bos = [q for q in qs if 0 in support[q]]
    if all(not keys[q] for q in qs):
        return []
    if len(with_bos) == n:
        bos = "; BOS gets an equal share in every query's set"
    elif all(not keys[q] for q in with_bos):
        bos = "; queries with no such key attend to BOS" if with_bos else ""
    else:
        return []
    verb = "attends to" if one_hot else "attends uniformly to"
    return [f"each query {verb} {desc}{bos}" for desc, sets in _relations(toks, n)
            if all(keys[q] == sets[q] for q in qs)]


def rules_of(P: list[list[float]], toks: list) -> list[str]:
    """Every rule the pattern fits on this input (rows = queries, BOS at 0); [] when none does."""
    n = len(P) - 1
    qs = range(1, n + 1)
    if all(max(P[q]) >= ONE_HOT for q in qs):
        a = {q: max(range(n + 1), key=lambda j: (P[q][j], -j)) for q in qs}
        rules = _map_rules(a, n)
        return rules + [r for r in _relation_rules({q: {a[q]} for q in qs}, toks, n, True) if r not in rules]
    support: dict[int, set] = {}
    for q in qs:
        row, m = P[q], max(P[q])
        s = {j for j in range(n + 1) if row[j] >= 0.5 * m}
        inside = [row[j] for j in s]
        if sum(row) - sum(inside) > 0.1 or max(inside) > 1.25 * min(inside):
            return []
        support[q] = s
    if all(support[q] == {0} for q in qs):
        return ["all queries attend to BOS"]
    return _relation_rules(support, toks, n, False)


def _written_out(P: list[list[float]], n: int) -> str:
    """A pattern no rule fits, as pairs (one key per query), key sets or weights."""
    qs = range(1, n + 1)
    if all(max(P[q]) >= ONE_HOT for q in qs):
        a = {q: max(range(n + 1), key=lambda j: (P[q][j], -j)) for q in qs}
        pairs = ", ".join(f"{q}->{_key(a[q])}" for q in qs)
        return (f"a permutation, query->key: {pairs}" if sorted(a[q] for q in qs) == list(qs)
                else f"one key per query, query->key: {pairs}")
    sets = {}
    for q in qs:
        row, m = P[q], max(P[q])
        s = {j for j in range(n + 1) if row[j] >= 0.5 * m}
        inside = [row[j] for j in s]
        if sum(row) - sum(inside) > 0.1 or max(inside) > 1.25 * min(inside):
            break
        sets[q] = s
    else:
        return "each query attends uniformly to a set of keys, query->keys: " + ", ".join(
            f"{q}->{_keyset(sets[q])}" for q in qs)
    tops = []
    for q in qs:
        ent = sorted(((j, P[q][j]) for j in range(n + 1) if P[q][j] >= 0.1), key=lambda e: (-e[1], e[0]))
        tops.append(f"{q}->{{" + ", ".join(f"{_key(j)}:{fmt_num(x, 2)}" for j, x in ent) + "}")
    return "mixed weights; keys with weight >= 0.1 per query: " + ", ".join(tops)


def describe_pattern(P: list[list[float]], toks: list) -> str:
    """The interpretation line of an attention pattern (rows = queries, BOS at 0): the one rule it fits,
    every rule when several fit (with a warning), or the pattern written out when none does."""
    n = len(P) - 1
    if n == 0:
        return "only BOS is present"
    rules = rules_of(P, toks)
    if not rules:
        return _written_out(P, n)
    if len(rules) == 1:
        return rules[0]
    return (f"{len(rules)} rules fit this pattern on this input, which cannot tell them apart (try inputs "
            "where they differ): " + " | ".join(rules))
