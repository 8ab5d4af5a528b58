"""An audit of a RASP program, independent of the generator: does any step do nothing, and what it measures.

It reads only the RASP expression graph (tracr's SOps and Selects, reached from
the output through `.children`) and evaluates every node on the domain with
tracr's plain `DefaultRASPEvaluator` (memoized here) — not the generator's
Program, trace, sampler bookkeeping or simplifier. The rules restate what "does
nothing" means (docs/generator.md):

- a step constant on the domain, or equal on the domain to another step or an input;
- a two-input map that one input alone decides (the keys of its table repeat);
- a selection that is every position on every input while comparing something,
  or that is the same comparing a categorical map's input as comparing its result;
- an attention step that the values it reads at the same position decide;
- a step built on attention that the token and position at the same place decide;
- a map next to a map (or a categorical map next to a two-input map) with nothing
  else reading the step between them: one map written as two.
"""

from __future__ import annotations

from collections import Counter

from tracr.rasp import rasp

from tracr_agent.tools.subjects.subject import input_domain

ATTENTION = (rasp.Aggregate, rasp.SelectorWidth)


class _Memo(rasp.DefaultRASPEvaluator):
    def __init__(self):
        super().__init__()
        self.memo = {}

    def evaluate(self, expr, xs):
        if id(expr) not in self.memo:
            self.memo[id(expr)] = super().evaluate(expr, xs)
        return self.memo[id(expr)]


def nodes_of(output) -> list:
    """Every expression the output depends on, children before parents."""
    order, seen = [], set()

    def visit(e):
        if id(e) in seen:
            return
        seen.add(id(e))
        for c in e.children:
            visit(c)
        order.append(e)

    visit(output)
    return order


def _value(v):
    return round(v, 9) + 0.0 if isinstance(v, float) else v


def tables(output, domain) -> dict[int, list[tuple]]:
    """id(node) -> its values (SOps) or selection (Selects) on each input; None rows where RASP raised."""
    nodes = nodes_of(output)
    out = {id(n): [] for n in nodes}
    for x in domain:
        ev = _Memo()
        try:
            ev.evaluate(output, list(x))
        except (ValueError, TypeError, ArithmeticError, KeyError, IndexError):
            pass
        for n in nodes:
            if isinstance(n, rasp.TokensType):
                got = list(x)
            elif isinstance(n, rasp.IndicesType):
                got = list(range(len(x)))
            else:
                got = ev.memo.get(id(n))
            if isinstance(n, rasp.Select):
                out[id(n)].append(tuple(tuple(bool(b) for b in row) for row in got) if got is not None else ())
            else:
                out[id(n)].append(tuple(_value(v) for v in got) if got is not None else (None,) * len(x))
    return out


def _decided(result, by) -> bool:
    seen, positions = {}, 0
    for n, row in enumerate(result):
        for i, v in enumerate(row):
            positions += 1
            if seen.setdefault(tuple(b[n][i] for b in by), v) != v:
                return False
    return 2 * len(seen) <= positions


def _reads(node) -> list:
    """The SOps a step reads (an attention step reads its selection's keys and queries too)."""
    if isinstance(node, rasp.Aggregate):
        return [node.selector.keys, node.selector.queries, node.sop]
    if isinstance(node, rasp.SelectorWidth):
        return [node.selector.keys, node.selector.queries]
    return list(node.children)


def _categorical_map(n) -> bool:
    return isinstance(n, rasp.Map) and rasp.is_categorical(n) and rasp.is_categorical(n.inner)


def _two_input(n) -> bool:
    return isinstance(n, rasp.SequenceMap)  # LinearSequenceMap too


def _one_map(first, second) -> bool:
    maps = isinstance(first, rasp.Map) and isinstance(second, rasp.Map)
    return maps or (_categorical_map(first) and _two_input(second) and not isinstance(second, rasp.LinearSequenceMap)) \
        or (_two_input(first) and not isinstance(first, rasp.LinearSequenceMap) and _categorical_map(second))


def audit(output, vocab, max_seq_len) -> list[str]:
    """Every step of the program ending in `output` that does nothing, one line each (empty: none)."""
    domain = input_domain(vocab, max_seq_len)
    t = tables(output, domain)
    nodes = nodes_of(output)
    sops = [n for n in nodes if isinstance(n, rasp.SOp)]
    steps = [n for n in sops if not isinstance(n, (rasp.TokensType, rasp.IndicesType))]
    tokens = next((n for n in sops if isinstance(n, rasp.TokensType)), rasp.tokens)
    indices = next((n for n in sops if isinstance(n, rasp.IndicesType)), rasp.indices)
    t.setdefault(id(tokens), [tuple(x) for x in domain])
    t.setdefault(id(indices), [tuple(range(len(x))) for x in domain])
    readers = Counter(id(r) for n in steps for r in {id(c): c for c in _reads(n)}.values())
    attended: set[int] = set()
    found = []
    for n in steps:
        name, mine = n.label, t[id(n)]
        reads = list({id(c): c for c in _reads(n)}.values())
        if len({v for row in mine for v in row}) == 1:
            found.append(f"{name}: constant")
        for other in sops:
            if other is not n and t[id(other)] == mine:
                found.append(f"{name}: equal to {other.label}")
        for c in reads:
            if not isinstance(c, (rasp.TokensType, rasp.IndicesType)) and readers[id(c)] == 1 and _one_map(c, n):
                found.append(f"{name}: one map with {c.label}")
        if _two_input(n) and any(_decided(mine, [t[id(c)]]) for c in (n.fst, n.snd)):
            found.append(f"{name}: one input decides it")
        if isinstance(n, ATTENTION):
            sel = n.selector
            pattern = t[id(sel)]
            if sel.predicate != rasp.Comparison.TRUE and all(p and all(all(r) for r in p) for p in pattern):
                found.append(f"{name}: selects everything")
            for side in {id(c): c for c in (sel.keys, sel.queries)}.values():
                if _categorical_map(side):
                    keys = t[id(side.inner)] if sel.keys is side else t[id(sel.keys)]
                    queries = t[id(side.inner)] if sel.queries is side else t[id(sel.queries)]
                    try:
                        alt = [tuple(tuple(bool(sel.predicate(k, q)) for k in ks) for q in qs)
                               for ks, qs in zip(keys, queries)]
                    except (ValueError, TypeError):
                        alt = None
                    if alt == pattern:
                        found.append(f"{name}: the map {side.label} is decoration")
            if _decided(mine, [t[id(c)] for c in reads]):
                found.append(f"{name}: moves nothing")
        if isinstance(n, ATTENTION) or any(id(c) in attended for c in reads):
            attended.add(id(n))
            if _decided(mine, [t[id(tokens)], t[id(indices)]]):
                found.append(f"{name}: a function of token and position alone")
    return found


def measures(output, vocab, max_seq_len) -> dict:
    """steps, distinct attention patterns, and the depth of the data flow (in steps) to the output."""
    domain = input_domain(vocab, max_seq_len)
    t = tables(output, domain)
    depth: dict[int, int] = {}
    steps, patterns = 0, set()
    for n in nodes_of(output):
        if not isinstance(n, rasp.SOp) or isinstance(n, (rasp.TokensType, rasp.IndicesType)):
            continue
        steps += 1
        depth[id(n)] = 1 + max((depth.get(id(c), 0) for c in _reads(n)), default=0)
        if isinstance(n, ATTENTION):
            patterns.add(tuple(t[id(n.selector)]))
    return {"steps": steps, "patterns": len(patterns), "depth": depth[id(output)]}
