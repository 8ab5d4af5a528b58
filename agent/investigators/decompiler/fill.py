"""Table entries no read observed, filled from decoded outputs.

A wide model in a basis nobody chose is read on few inputs (every position read costs a dense
vector), so a program decompiled from them reaches table entries it never observed: an MLP's key, a
head's (query, key) pair, a value never seen moved. Where outputs were decoded (`run_model`), the
inputs it gets wrong say what those entries hold: an entry is given the value that makes the
program's output equal the model's on more of the inputs reaching it than the default does, when
exactly one value does best. Entries are filled greedily, the one most wrong inputs reach first, and
only from behaviour: what each filled entry holds is said in the description, and the confidence
counts the outputs it was fitted to as evidence no more (decompiler/confidence.py).
"""

from __future__ import annotations

import copy
from collections import Counter

from tracr_agent.agent.investigators.decompiler.coverage import mlp_keys, moved_keys
from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep, Program, source
from tracr_agent.tools.subjects.compare import outputs_equal

MAX_FILLS = 40
"""At most this many entries are filled."""
PARTNERS = 2
"""Entries tried beside one, the ones its values lead most wrong runs to."""
MAX_WORK = 30000
"""…and the search stops after this many runs of the program (a few seconds)."""


def search(prog: Program, outputs: dict[tuple, list], numerical: bool) -> list[tuple]:
    """The program's unobserved entries that `outputs` (input -> decoded output) decide: (entry, value,
    whether no other value fit as well, the inputs reaching it), in the order found; the program is left as it is. `numerical`:
    outputs are numbers (compared within tolerance). Every turn decompiles again from the history: the
    same program and outputs give the same entries, remembered."""
    key = (source(prog), tuple(sorted((x, repr(y)) for x, y in outputs.items())), numerical)
    if key not in _MEMO:
        _MEMO[key] = _search(prog, outputs, numerical)
        while len(_MEMO) > 16:
            _MEMO.pop(next(iter(_MEMO)))
    return list(_MEMO[key])


def apply(prog: Program, found: list[tuple]) -> list[str]:
    """Fill the entries `search` found, in place: a phrase for each."""
    done = []
    for e, v, _, _ in found:
        _set(prog, e, v)
        done.append(_phrase(prog, e, v))
    return done


_MEMO: dict = {}
_NONE = object()


class _Runner:
    """The program compiled once; an entry is set by changing its table in the compiled namespace (a
    value moved, written inline, recompiles)."""

    def __init__(self, prog: Program, numerical: bool):
        self.prog, self.numerical = prog, numerical
        self.orig = copy.deepcopy(prog)  # what was observed: an entry is open when this program lacks it
        self.work = 0
        self.filled: dict = {}
        self._compile()

    def _compile(self) -> None:
        self.ns: dict = {}
        exec(compile(source(self.prog), "<decompiled>", "exec"), self.ns)

    def _where(self, entry):
        """(the compiled nested table, the path of keys to the entry), or None when it is inline."""
        i, key = entry
        st = self.prog.steps[i]
        if isinstance(st, HeadStep):  # a value moved
            return None
        path = list(key) if len(st.inputs) > 1 else [key]
        return self.ns[f"MAP_{self.prog.ident(st.out).upper()}"], path

    def get(self, entry):
        return _get(self.prog, entry)

    def put(self, entry, value) -> None:
        """Set the entry, or open it again (value _NONE)."""
        if value is _NONE:
            _unset(self.prog, entry)
        else:
            _set(self.prog, entry, value)
        where = self._where(entry)
        if where is None:
            self._compile()
            return
        table, path = where
        if value is not _NONE:
            for k in path[:-1]:
                table = table.setdefault(k, {})
            table[path[-1]] = value
            return
        chain = []
        for k in path[:-1]:
            chain.append((table, k))
            table = table.get(k, {})
        table.pop(path[-1], None)
        for parent, k in reversed(chain):  # an empty level left would read as a value that is not there
            if parent.get(k) == {}:
                del parent[k]

    def right(self, x, y) -> bool:
        self.work += 1
        try:
            return outputs_equal(list(self.ns["f"](list(x))), list(y), self.numerical)
        except Exception:  # noqa: BLE001 - the program fails on x: not right
            return False

    def count(self, runs) -> int:
        return sum(self.right(x, y) for x, y in runs)

    def score(self, runs, entries: set) -> int:
        """How many runs are right with the entries as they are now; -1 when one is wrong that reaches
        no other entry left open: nothing else can make it right, so these values are refuted (the
        entry's true value may be one no read observed: a read finds it)."""
        n = 0
        for x, y in runs:
            if self.right(x, y):
                n += 1
            elif not self.reached(x) - entries - set(self.filled):
                return -1
        return n

    def reached(self, x) -> set:
        """The entries never observed that the program reaches on x and a value can be given (filled
        ones included)."""
        self.work += 1
        try:
            got = self.ns["run"](list(x))
        except Exception:  # noqa: BLE001 - the program fails on x: it reaches nothing to fill
            return set()
        return _open_entries(self.orig, got)


def _search(prog: Program, outputs: dict[tuple, list], numerical: bool) -> list:
    """The entries filled, their values and whether each was the only one that fit (the program is left
    as it was). Each step gives the entry most wrong runs reach (a filled one included: what was filled
    first, from the runs reaching it then, is revised when later fills lead more runs to it) the value
    that makes most of the runs reaching it right; it is taken only when that is more than before, so
    every step makes more runs right in all, and the search ends."""
    run = _Runner(prog, numerical)
    filled = run.filled
    tried: set = set()
    while len(filled) < MAX_FILLS and run.work < MAX_WORK:
        reach: dict = {}
        wrong = Counter()
        for x, y in outputs.items():
            keys = run.reached(x)
            for k in keys:
                reach.setdefault(k, []).append((x, y))
            if keys and not run.right(x, y):
                wrong.update(keys)
        todo = [k for k, _ in wrong.most_common() if k not in tried]
        if not todo:
            break
        entry = todo[0]
        tried.add(entry)
        chosen, unique = _best(run, entry, reach)
        if chosen is not _NONE:
            for e, v in chosen:
                run.put(e, v)
                filled[e] = (v, unique)
            tried.clear()  # an entry no value helped may be decided now
    reaching: dict = {}  # the inputs that reach each entry filled, with every entry filled
    for x in outputs:
        for k in run.reached(x):
            reaching.setdefault(k, set()).add(x)
    for e in filled:
        run.put(e, _NONE)
    return [(e, v, unique, frozenset(reaching.get(e, ()))) for e, (v, unique) in filled.items()]


def _best(run: _Runner, entry, reach: dict):
    """(the assignment that makes the most runs reaching it right, whether no other does as well): a
    value for the entry alone, or, when none does better alone, with a value for an entry it leads the
    wrong runs to (a table read after it). (_NONE, False) when none does better than what the entries
    hold now. Of assignments that tie, the smallest, then the one giving the values its table holds
    most. `reach`: entry -> the runs reaching it."""
    now = run.get(entry)
    runs = reach[entry]
    current = run.count(runs)
    scores = []
    for v in _options(run.orig, entry):
        run.put(entry, v)
        scores.append((run.score(runs, {entry}), ((entry, v),), runs))
    if max((sc for sc, _, _ in scores), default=current) <= current:
        for v in _options(run.orig, entry):
            run.put(entry, v)
            after = Counter(k for x, y in runs if not run.right(x, y) for k in run.reached(x) if k != entry)
            for other, _ in after.most_common(PARTNERS):
                held = run.get(other)
                # the runs a second entry changes: those reaching either
                both = list({x: (x, y) for x, y in runs + reach.get(other, [])}.values())
                for w in _options(run.orig, other):
                    run.put(other, w)
                    scores.append((run.score(runs, {entry, other}), ((entry, v), (other, w)), both))
                run.put(other, held)
    run.put(entry, now)
    if not scores:
        return _NONE, False
    top = max(sc for sc, _, _ in scores)
    best = [(a, rs) for sc, a, rs in scores if sc == top]
    least = min(len(a) for a, _ in best)  # a pair that does no better than one entry adds a guess
    best = [(a, rs) for a, rs in best if len(a) == least]
    if top <= current:
        return _NONE, False
    if least == 2:  # a pair must make more right in all of the runs either entry changes than now
        best = [(a, rs) for a, rs in best if _gain(run, a, rs) > 0]
        if not best:
            return _NONE, False
    common = {e: Counter(map(repr, _held_values(run.orig, e))) for e in {e for a, _ in best for e, _ in a}}
    best.sort(key=lambda b: -sum(common[e][repr(v)] for e, v in b[0]))
    return best[0][0], len(best) == 1


def _gain(run: _Runner, assignment, runs: list) -> int:
    """How many more of the runs are right with the assignment than without it."""
    held = [(e, run.get(e)) for e, _ in assignment]
    before = run.count(runs)
    for e, v in assignment:
        run.put(e, v)
    after = run.count(runs)
    for e, v in reversed(held):
        run.put(e, v)
    return after - before


def _open_entries(prog: Program, got: dict) -> set:
    """The entries a value can be given that one run reaches and `prog` never observed: an MLP table's
    key, a value a head moves (as coverage.unseen_keys finds them, without the other readings it also
    weighs). A head's rule table is not filled: a pair it never observed is read as the named comparison
    that gives every observed pair (decompiler/account.py), which the outputs it reproduces then check."""
    out = set()
    for i, st in enumerate(prog.steps):
        if isinstance(st, MlpStep) and st.linear is None and st.inputs:
            cols = [got.get(prog.ident(v)) for v in st.inputs]
            if all(c is not None for c in cols):
                out |= mlp_keys(i, st, cols)
        elif isinstance(st, HeadStep):
            out |= moved_keys(prog, i, st, got)
    return out


def _options(prog: Program, entry) -> list:
    """The values an entry may hold: those its table (or the head's moves) holds elsewhere."""
    return sorted(set(_held_values(prog, entry)), key=repr)


def _held_values(prog: Program, entry) -> list:
    return list(_table(prog, entry)[0].values())


def _table(prog: Program, entry) -> tuple[dict, object]:
    """(the dict an entry lives in, its key there): a head's moves, or an MLP's table."""
    i, key = entry
    st = prog.steps[i]
    return (st.vmap, key[1]) if isinstance(st, HeadStep) else (st.table, key)


def _get(prog: Program, entry):
    table, k = _table(prog, entry)
    return table.get(k, _NONE)


def _set(prog: Program, entry, value) -> None:
    table, k = _table(prog, entry)
    table[k] = value


def _unset(prog: Program, entry) -> None:
    table, k = _table(prog, entry)
    table.pop(k, None)


def _phrase(prog: Program, entry, value) -> str:
    i, key = entry
    st = prog.steps[i]
    name = prog.ident(st.out)
    if isinstance(st, HeadStep):
        return f"{name} moves {key[1]!r} as {value!r}"
    return f"{name}[{key!r}] = {value!r}"
