"""Enumerative synthesis: the smallest composition of building blocks that reproduces what was observed.

Bottom-up enumeration by cost (number of operations), as in program synthesis by
observational equivalence: every candidate sequence operation (an *SOp*, RASP's name) is
evaluated on all observed inputs at once (numpy arrays, inputs x positions, NaN for "no
value"), and two SOps with the same values on every observation are one SOp (the cheaper
is kept). Starting from `tokens`, `indices` and `length`, each round applies every block
(agent/investigators/openworld/blocks.py) to the SOps found so far. After each round the
target (the observed outputs, or a residual variable's values) is checked against:

1. an SOp equal to it (up to bool/int conversion);
2. one step's function of an SOp's value, fitted from the observations (a table from
   value to value: the elementwise map of RASP, an MLP's job in the compiled model), or a
   linear function of one or two numerical SOps;
3. a function of two cheap SOps' values (a two-input sequence map, fitted the same way).

Tables are only accepted when small next to the evidence (each key seen at least twice on
average, at most MAX_TABLE keys), and every candidate is then rendered to Python and run on
the observations as a check (see render.py). Candidates are ranked by cost, tables last.

Where the time goes (benchmarks/openworld_search.py): a search that explains nothing evaluates its
whole budget (MAX_EVALS SOps), so each SOp must be cheap. Maps evaluate a block once per distinct
value (or value pair) and spread the results by index; a selector's reductions read value SOps
stacked once per round (Aggregable): one pass for the selected values' largest and smallest, one
matrix product for the sums of integer values; the table fits are decided on small integer codes
cached per SOp (table_fits) before any table is built; an SOp is compared with the target only when
its bytes could be equal. None of this changes what is enumerated, in which order, or what is
counted against the budget.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from tracr_agent.agent.investigators.openworld import blocks as B
from tracr_agent.tools.subjects.compare import FLOAT_NOISE, nonzero, within  # scoring's tolerance

MAX_TABLE = 16
MAX_VALUES = 16
"""An SOp with more distinct values than this is not used as a key, query or table key."""
NAN = float("nan")
NONE_CODE = -9.5e18
"""None as a number where NaN will not do (bytes, sorting, equality); no value an SOp takes."""
PAIR_COST = 1
MAX_EVALS = 50_000
"""The search's budget in candidate SOps evaluated (about a full round at cost 2): a budget of work,
not of time, so the same observations give the same program on a busy machine as on an idle one
(the wall-clock limit `seconds` is only a safety net)."""
PREFIX_CMPS = ("LEQ", "LT", "GEQ", "GT")
FIT_SECONDS = 3.0
"""Extra time the last round's table fits may take after the enumeration's budget ran out."""
MAX_PAIR_SOPS = 120
SELECTOR_UFUNCS = {"EQ": np.equal, "NEQ": np.not_equal, "LT": np.less, "LEQ": np.less_equal, "GT": np.greater,
                   "GEQ": np.greater_equal}


@dataclass(eq=False)
class SOp:
    op: str
    args: tuple = ()
    params: tuple = ()
    kind: str = "int"
    vals: Optional[np.ndarray] = field(default=None, repr=False)
    cost: int = 0
    _nv: Optional[int] = field(default=None, repr=False)
    _full: Optional[bool] = field(default=None, repr=False)
    _codes: Optional[tuple] = field(default=None, repr=False)

    def n_values(self) -> int:
        """How many distinct values the SOp takes (None aside)."""
        if self._nv is None:
            self._distinct_codes()
        return self._nv

    def codes(self, mask: np.ndarray) -> tuple[np.ndarray, int]:
        """The values at the observed positions as small integers (equal values, and every None,
        share a code) and an upper bound of the codes: what table fits compare."""
        full, n = self._distinct_codes()
        return full[mask], n

    def _distinct_codes(self) -> tuple[np.ndarray, int]:
        if self._codes is None:  # one np.unique, once, serves n_values and the table fits
            uniq, inverse = np.unique(self.vals, return_inverse=True)  # NaNs share one code, sorted last
            self._codes = (inverse.reshape(self.vals.shape), len(uniq))
            self._nv = len(uniq) - int(len(uniq) > 0 and bool(np.isnan(uniq[-1])))
        return self._codes


@dataclass
class Candidate:
    sop: SOp
    score: float
    note: str = ""


class Space:
    """The observations, encoded: inputs x positions arrays, strings as codes into a sorted table
    (so code order is string order)."""

    def __init__(self, inputs: list[tuple], vocab: list, max_seq_len: int, extra_strings=()):
        self.inputs = [tuple(x) for x in inputs]
        self.N = len(self.inputs)
        self.L = max(1, max((len(x) for x in self.inputs), default=1))
        self.vocab = list(vocab)
        strs = {t for t in vocab if isinstance(t, str)} | {s for s in extra_strings if isinstance(s, str)}
        self.strings = sorted(strs | set("abcdefghijklmnopqrstuvwxyz"))
        self.code = {s: i for i, s in enumerate(self.strings)}
        self.mask = np.zeros((self.N, self.L), bool)
        for n, x in enumerate(self.inputs):
            self.mask[n, :len(x)] = True
        self.token_kind = "str" if any(isinstance(t, str) for t in vocab) else "int"
        self._last_distinct: Optional[tuple] = None

    # -- encoding ------------------------------------------------------------------------------
    def encode(self, value, kind: str) -> float:
        if value is None:
            return NAN
        if kind == "str":
            if not isinstance(value, str) or value not in self.code:
                raise ValueError("string outside the table")
            return float(self.code[value])
        if kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError("not a bool")
            return float(bool(value))
        if isinstance(value, str):
            raise ValueError("a string where a number belongs")
        return float(value)

    def decode(self, code: float, kind: str):
        if np.isnan(code):
            return None
        if kind == "str":
            return self.strings[int(code)]
        if kind == "bool":
            return bool(code)
        if kind == "int":
            return int(round(code))
        return float(code)

    def array(self, rows: list[list], kind: str) -> np.ndarray:
        a = np.full((self.N, self.L), NAN)
        for n, row in enumerate(rows):
            for i, v in enumerate(row):
                a[n, i] = self.encode(v, kind)
        return a

    def primitives(self) -> list[SOp]:
        tok = self.array([list(x) for x in self.inputs], self.token_kind)
        idx = np.where(self.mask, np.arange(self.L)[None, :], NAN)
        length = np.where(self.mask, self.mask.sum(1)[:, None], NAN)
        return [SOp("tokens", kind=self.token_kind, vals=tok), SOp("indices", kind="int", vals=idx),
                SOp("length", kind="int", vals=length)]

    # -- applying blocks -----------------------------------------------------------------------
    def apply_map(self, f: B.MapFn, a: SOp) -> Optional[SOp]:
        ok, inverse, (uniq,) = self._distinct(a)
        try:  # the map on each distinct value once, then spread by index
            res = np.array([self.encode(f.fn(self.decode(u, a.kind)), f.kind_out) for u in uniq], float)
        except (ValueError, TypeError, ArithmeticError, IndexError):
            return None
        return SOp("map", (a,), (f,), f.kind_out, self._spread(a.vals.shape, ok, res, inverse), a.cost + 1)

    def apply_seqmap(self, f: B.MapFn, a: SOp, b: SOp) -> Optional[SOp]:
        ok, inverse, (xs, ys) = self._distinct(a, b)
        try:
            res = np.array([self.encode(f.fn(self.decode(x, a.kind), self.decode(y, b.kind)), f.kind_out)
                            for x, y in zip(xs, ys)], float)
        except (ValueError, TypeError, ArithmeticError, IndexError):
            return None
        return SOp("seqmap", (a, b), (f,), f.kind_out, self._spread(a.vals.shape, ok, res, inverse),
                   a.cost + b.cost + 1)

    def _distinct(self, *sops: SOp) -> tuple:
        """The positions where every SOp has a value, the distinct value tuples there (one array per
        SOp) and each position's index into them. The last answer is kept: the search applies every
        map (every two-input map) to the same arguments in a row."""
        last = self._last_distinct
        if last is not None and len(last[0]) == len(sops) and all(x is y for x, y in zip(last[0], sops)):
            return last[1]
        ok = np.ones(sops[0].vals.shape, bool)
        for s in sops:
            ok &= ~np.isnan(s.vals)
        if len(sops) == 1:
            uniq, inverse = np.unique(sops[0].vals[ok], return_inverse=True)
            cols = (uniq,)
        else:
            rows, inverse = np.unique(np.stack([s.vals[ok] for s in sops], 1), axis=0, return_inverse=True)
            cols = tuple(rows.T)
        found = (ok, inverse.reshape(-1), cols)
        self._last_distinct = (sops, found)
        return found

    @staticmethod
    def _spread(shape, ok: np.ndarray, res: np.ndarray, inverse: np.ndarray) -> np.ndarray:
        out = np.full(shape, NAN)
        out[ok] = res[inverse]
        return out

    def selector(self, keys: SOp, queries: SOp, cmp: str) -> np.ndarray:
        K, Q = keys.vals[:, None, :], queries.vals[:, :, None]
        valid = ~np.isnan(K) & ~np.isnan(Q)
        if cmp == "TRUE":
            return valid
        with np.errstate(invalid="ignore"):
            rel = SELECTOR_UFUNCS[cmp](K, Q)  # only the comparison asked for (the search asks for each)
        return rel & valid

    def key_filter(self, flag: SOp) -> np.ndarray:
        """Every query selects the keys whose flag is true."""
        k = flag.vals[:, None, :] == 1.0
        return np.broadcast_to(k, (self.N, self.L, self.L)) & self.mask[:, :, None]

    def reduce(self, sel: np.ndarray, how: str, values: Optional[SOp]) -> Optional[np.ndarray]:
        count = sel.sum(-1)
        if how == "width":
            return np.where(self.mask, count, NAN)
        V = values.vals[:, None, :]
        if how == "mean":
            s = np.where(sel, V, 0.0).sum(-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(self.mask, np.where(count > 0, s / np.maximum(count, 1), 0.0), NAN)
        if how in ("unique", "max", "min"):
            hi = np.where(sel, V, -np.inf).max(-1)
            lo = np.where(sel, V, np.inf).min(-1)
            if how == "unique":
                if np.any((count > 0) & (hi != lo) & self.mask):
                    return None  # a query would read several different values: not a RASP aggregate
                out = hi
            else:
                out = hi if how == "max" else lo
            return np.where(self.mask & (count > 0), out, NAN)
        raise ValueError(how)

    def sort_by(self, values: SOp, keys: SOp, descending: bool) -> np.ndarray:
        k = np.where(self.mask, -keys.vals if descending else keys.vals, np.inf)  # padding sorts last
        order = np.argsort(k, axis=1, kind="stable")
        return np.where(self.mask, np.take_along_axis(values.vals, order, 1), NAN)


def value_bytes(vals: np.ndarray) -> bytes:
    """The values as bytes, every None the same (NaN payloads may differ): equal values, equal bytes."""
    return np.where(vals != vals, NONE_CODE, vals).tobytes()


def signature(s: SOp) -> bytes:
    return s.kind.encode() + value_bytes(s.vals)


def _categorical(s: SOp) -> bool:
    return s.kind in ("int", "str", "bool") and s.n_values() <= MAX_VALUES


def matches(space: Space, s: SOp, target: np.ndarray, kind: str) -> bool:
    """Whether SOp `s` equals the target (None where the target is None), bool/int/num alike."""
    if s.kind == "str" and kind != "str" or s.kind != "str" and kind == "str":
        return False
    if kind == "bool" and s.kind not in ("bool", "int"):
        return False
    a, b = s.vals[space.mask], target[space.mask]
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    ok = ~np.isnan(a)
    if kind == "num" or s.kind == "num":
        return bool(np.all(within(a[ok], b[ok])))
    if kind == "bool" and not np.all(np.isin(a[ok], (0.0, 1.0))):
        return False
    return bool(np.all(a[ok] == b[ok]))


def target_codes(space: Space, target: np.ndarray) -> tuple[np.ndarray, int]:
    """The target's values at the observed positions as codes, and how many distinct ones there are."""
    uniq, inverse = np.unique(target[space.mask], return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def table_fits(space: Space, keys: list[SOp], target: tuple[np.ndarray, int]) -> bool:
    """Whether fit_table would find a table: the target is a function of the keys' values on every
    observed position, with at most MAX_TABLE keys, each seen twice on average, and two or more
    target values. Decided on integer codes (no sorting of value tuples): the search asks this
    for thousands of SOps and pairs, and almost always the answer is no."""
    t, n_t = target
    if n_t < 2:
        return False
    comb, size = keys[0].codes(space.mask)
    for k in keys[1:]:
        c, n = k.codes(space.mask)
        comb, size = comb * n + c, size * n
    n_keys = int(np.count_nonzero(np.bincount(comb, minlength=size)))
    if n_keys > MAX_TABLE or n_keys * 2 > len(t):
        return False
    first = np.empty(size, np.int64)
    first[comb[::-1]] = t[::-1]  # the target's code at the first position of each key
    return bool(np.array_equal(first[comb], t))


def fit_table(space: Space, keys: list[SOp], target: np.ndarray) -> Optional[dict]:
    """value(s) -> target value, when the target is a function of the keys' values on every
    observed position and the table is small next to the evidence; None otherwise. (The search
    asks table_fits first, which decides the same on integer codes, and builds only the tables.)"""
    m = space.mask
    t = np.nan_to_num(target[m], nan=NONE_CODE)
    cols = np.stack([np.nan_to_num(k.vals[m], nan=NONE_CODE) for k in keys], 1)
    uk, inverse = np.unique(cols, axis=0, return_inverse=True)
    if len(uk) > MAX_TABLE or len(uk) * 2 > len(t):
        return None
    inverse = inverse.reshape(-1)
    first = np.zeros(len(uk), int)
    first[inverse[::-1]] = np.arange(len(t))[::-1]  # the first position of each key
    if not np.array_equal(t, t[first][inverse]):
        return None
    if len(np.unique(t)) < 2:
        return None
    return {tuple(None if c == NONE_CODE else float(c) for c in row): (None if t[i] == NONE_CODE else float(t[i]))
            for row, i in zip(uk, first)}


def fit_linear(space: Space, srcs: list[SOp], target: np.ndarray) -> Optional[tuple]:
    """Coefficients (a1, [a2,] b) with target = a1*s1 [+ a2*s2] + b on every observation, snapped to
    simple fractions; None when no such fit exists."""
    m = space.mask
    X = np.stack([s.vals[m] for s in srcs] + [np.ones(int(m.sum()))], 1)
    y = target[m]
    if np.isnan(X).any() or np.isnan(y).any():
        return None
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    snapped = []
    for c in coef:
        best = min((round(c * d) / d for d in (1, 2, 3, 4, 5, 6, 8, 10, 12)), key=lambda v: abs(v - c))
        snapped.append(best if within(best, c, FLOAT_NOISE) else float(c))
    if np.all(within(X @ np.array(snapped), y)) and any(nonzero(c, FLOAT_NOISE) for c in snapped[:-1]):
        return tuple(snapped)
    return None


class Aggregable:
    """The value SOps of one cost that a round's selectors aggregate: which each reducer takes, and
    their values stacked once per round (not once per selector)."""

    PICKING = {k for how, (kinds, _, _) in B.REDUCERS.items() if how not in ("width", "mean") for k in kinds}

    def __init__(self, vs: list[SOp]):
        self.by_reducer = {how: [v for v in vs if v.kind in kinds] for how, (kinds, _, _) in B.REDUCERS.items()}
        self.by_reducer["picking"] = [v for v in vs if v.kind in self.PICKING]
        self._stacks: dict[str, np.ndarray] = {}

    def stacked(self, which: str) -> np.ndarray:
        """inputs x keys x values."""
        if which not in self._stacks:
            if which == "picking":
                self._stacks[which] = np.stack([v.vals for v in self.by_reducer["picking"]], 2)
            else:  # "whole" / "num": the mean's values, integer-valued (None as 0) or averaged
                vs = [v for v in self.by_reducer["mean"] if (v.kind == "num") == (which == "num")]
                self._stacks[which] = np.stack([np.nan_to_num(v.vals, nan=0.0) if which == "whole" else v.vals
                                                for v in vs], 2) if vs else None
        return self._stacks[which]

    def sums(self, sel: np.ndarray) -> np.ndarray:
        """values x inputs x queries: the sum of each mean-able SOp over the selected keys. Integer
        values (int, bool) sum exactly in any order, so one matrix product; averaged (num) values in
        the order numpy's sum takes, as before, so that equal SOps stay bit-equal."""
        vs = self.by_reducer["mean"]
        whole = np.array([v.kind != "num" for v in vs])
        out = np.empty((len(vs),) + sel.shape[:2])
        if whole.any():
            out[whole] = np.matmul(sel.astype(float), self.stacked("whole")).transpose(2, 0, 1)
        if not whole.all():
            V = self.stacked("num").transpose(2, 0, 1)[:, :, None, :]
            out[~whole] = np.where(sel[None], V, 0.0).sum(-1)
        return out


class Synthesizer:
    """One search over one set of observations. `run(target, kind)` returns candidates, best first."""

    def __init__(self, space: Space, max_cost: int = 3, seconds: float = 45.0, max_bank: int = 20000,
                 max_evals: int = MAX_EVALS):
        self.space, self.max_cost, self.seconds, self.max_bank = space, max_cost, seconds, max_bank
        self.max_evals, self.evals = max_evals, 0
        self.bank: list[SOp] = []
        self.seen: set[bytes] = set()
        self.target: Optional[np.ndarray] = None
        self.kind = "int"
        self.hits: list[SOp] = []
        """SOps equal to the target, found while enumerating (a round stops at the first)."""

    def _add(self, s: Optional[SOp]) -> Optional[SOp]:
        self.evals += 1
        if s is None:
            return None
        if self.space.mask.any() and np.isnan(s.vals[self.space.mask]).all():
            return None
        sig = signature(s)
        if sig in self.seen:
            return None
        self.seen.add(sig)
        self.bank.append(s)
        if self.target is not None and self._may_match(s, sig) and matches(self.space, s, self.target, self.kind):
            self.hits.append(s)
        return s

    def _may_match(self, s: SOp, sig: bytes) -> bool:
        """False when `s` certainly differs from the target: outside numbers (compared with a
        tolerance) equal values are equal bytes, since every SOp, like the target, is None off the
        inputs. Saves the full comparison for almost every SOp."""
        return s.kind == "num" or self.kind == "num" or sig.endswith(self._target_bytes)

    def _complete(self, s: SOp) -> bool:
        """Whether `s` has a value at every position (only such SOps are aggregated or averaged)."""
        if s._full is None:
            s._full = not np.isnan(s.vals[self.space.mask]).any()
        return s._full

    def _stop(self, deadline: float) -> bool:
        return (bool(self.hits) or self.evals > self.max_evals or time.monotonic() > deadline
                or len(self.bank) > self.max_bank)

    # -- one round: every SOp of cost c ---------------------------------------------------------
    def _maps(self, a: SOp):
        vals = [self.space.decode(u, a.kind) for u in np.unique(a.vals[~np.isnan(a.vals)])]
        if a.kind == "int":
            return B.int_maps(vals if len(vals) <= 8 else [])
        if a.kind == "str":
            return B.str_maps(vals if len(vals) <= 8 else [])
        if a.kind == "bool":
            return B.BOOL_MAPS
        return B.NUM_MAPS

    def _round(self, c: int, deadline: float):
        sp = self.space
        by_cost = {}
        for s in self.bank:
            by_cost.setdefault(s.cost, []).append(s)
        new = []

        def add(s):
            if s is not None and s.cost == c and self._add(s) is not None:
                new.append(s)

        # select + reduce: keys, queries (and values) costs summing to c - 1
        cats = [s for s in self.bank if s.cost < c and _categorical(s)]
        values = [s for s in self.bank if s.cost < c]
        usable_by_cost = self._aggregable(values)
        for flag in cats:
            if flag.kind == "bool" and flag.cost <= c - 1:
                self._reductions(sp.key_filter(flag), ("filter", flag), flag.cost, usable_by_cost, c, add)
                if self._stop(deadline):
                    return new
        for keys, queries in itertools.product(cats, cats):
            if keys.kind != queries.kind or keys.kind == "bool" and keys is not queries:
                continue
            base = keys.cost + (queries.cost if queries is not keys else 0)
            if base > c - 1:
                continue
            cmps = ("TRUE",) if keys.op == "length" or queries.op == "length" else tuple(B.COMPARISONS)
            for cmp in cmps:
                if self._stop(deadline):
                    return new
                if cmp == "TRUE" and not (keys.op == queries.op == "indices"):
                    continue  # one all-true selector is enough
                sel = sp.selector(keys, queries, cmp)
                self._reductions(sel, ("select", keys, queries, cmp), base, usable_by_cost, c, add)
            if self._stop(deadline):
                return new
        idx = next(s for s in self.bank if s.op == "indices")
        for flag in cats:  # prefix/suffix aggregates of the flagged positions
            if flag.kind == "bool" and flag.cost <= c - 1:
                for cmp in PREFIX_CMPS:
                    sel = sp.key_filter(flag) & sp.selector(idx, idx, cmp)
                    self._reductions(sel, ("prefix", flag, cmp), flag.cost, usable_by_cost, c, add)
                if self._stop(deadline):
                    return new
        # sorting by a key
        for keys in cats:
            for vals in values:
                if keys.kind in ("int", "str") and vals.kind != "num" and keys.cost + vals.cost == c - 1 \
                        and not np.isnan(keys.vals[sp.mask]).any():
                    for desc in (False, True):
                        add(SOp("sort", (vals, keys), (desc,), vals.kind, sp.sort_by(vals, keys, desc), c))
        # maps of SOps of cost c-1
        for a in by_cost.get(c - 1, []):
            for f in self._maps(a):
                if f.kind_in == a.kind:
                    add(sp.apply_map(f, a))
            if self._stop(deadline):
                return new
        # two-input maps: costs i + j = c - 1
        for i in range(c):
            for a in by_cost.get(i, []):
                for b in by_cost.get(c - 1 - i, []):
                    if a is b or a.kind != b.kind or c > 1 and max(a.n_values(), b.n_values()) > 8:
                        continue
                    for f in B.SEQ_MAPS:
                        if f.kind_in == a.kind:
                            add(sp.apply_seqmap(f, a, b))
                if self._stop(deadline):
                    return new
        return new

    def _aggregable(self, values: list[SOp]) -> dict[int, "Aggregable"]:
        """cost -> the SOps of that cost (with a value at every position) a selector may aggregate."""
        out: dict[int, list[SOp]] = {}
        for v in values:
            if self._complete(v):
                out.setdefault(v.cost, []).append(v)
        return {cost: Aggregable(vs) for cost, vs in out.items()}

    def _reductions(self, sel, how_sel, base: int, usable_by_cost: dict, c: int, add) -> None:
        """Every reduction of one selector, the values batched: the selected values' largest and
        smallest (what `unique`, `max` and `min` read) are computed once for all of them, the sums
        (`mean`) once; `usable_by_cost` holds the SOps with a value at every position, by cost."""
        sp = self.space
        if base == c - 1:
            add(SOp("reduce", (how_sel,), ("width",), "int", sp.reduce(sel, "width", None), c))
        usable = usable_by_cost.get(c - 1 - base)
        if not usable:
            return
        count = sel.sum(-1)
        live = sp.mask & (count > 0)
        picking = usable.by_reducer["picking"]
        extremes = {}  # id(SOp) -> (largest, smallest selected value, several values selected) per query

        def extreme(v: SOp) -> tuple:
            if not extremes and picking:
                # key by key (a dozen at most) over contiguous (values x inputs x queries) arrays:
                # numpy reduces a long axis fast, the short last one slowly
                Vk = usable.stacked("picking")  # inputs x keys x values
                shape = (len(picking),) + sel.shape[:2]
                hi, lo = np.full(shape, -np.inf), np.full(shape, np.inf)
                for k in range(sel.shape[2]):
                    sk, vk = sel[None, :, :, k], Vk[:, k, :].T[:, :, None]
                    np.maximum(hi, np.where(sk, vk, -np.inf), out=hi)
                    np.minimum(lo, np.where(sk, vk, np.inf), out=lo)
                several = np.any(live & (hi != lo), axis=(1, 2))
                hi, lo = np.where(live, hi, NAN), np.where(live, lo, NAN)
                extremes.update((id(p), e) for p, *e in zip(picking, hi, lo, several))
            return extremes[id(v)]

        for how, (kinds, out_kind, _) in B.REDUCERS.items():
            vs = usable.by_reducer[how]
            if how == "width" or not vs:
                continue
            if how == "mean":
                res = np.where(sp.mask, np.where(count > 0, usable.sums(sel) / np.maximum(count, 1), 0.0), NAN)
                for v, r in zip(vs, res):  # a copy: a row kept in the bank must not hold the whole batch
                    add(SOp("reduce", (how_sel, v), (how,), out_kind, r.copy(), c))
                continue
            for v in vs:
                hi, lo, several = extreme(v)
                if how == "unique" and several:
                    continue  # a query would read several different values: not a RASP aggregate
                add(SOp("reduce", (how_sel, v), (how,), out_kind or v.kind, (lo if how == "min" else hi).copy(), c))

    # -- the search -------------------------------------------------------------------------------
    def run(self, target: np.ndarray, kind: str, want: int = 3) -> list[Candidate]:
        t0 = time.monotonic()
        deadline = t0 + self.seconds
        found: list[Candidate] = []
        self.target, self.kind, self.hits = target, kind, []
        self._target_bytes = value_bytes(target)  # what _may_match finds at the end of a signature
        for p in self.space.primitives():
            self._add(p)
        for c in range(0, self.max_cost + 1):
            if c > 0:
                self._round(c, deadline)
            if self.hits:
                found += [Candidate(h, h.cost) for h in self.hits]
                break
            found += self._fits(c, target, kind, deadline + FIT_SECONDS)
            if found or time.monotonic() > deadline:
                break
        found.sort(key=lambda cand: cand.score)
        return found[:want]

    def _fits(self, c: int, target: np.ndarray, kind: str, deadline: float) -> list[Candidate]:
        sp = self.space
        out = []
        goal = target_codes(sp, target)  # for the quick table decisions

        def table(keys: list[SOp]) -> Optional[dict]:
            return fit_table(sp, keys, target) if table_fits(sp, keys, goal) else None

        level = [s for s in self.bank if s.cost == c]
        for s in level:
            if time.monotonic() > deadline:
                break
            if kind == "num" and s.kind in ("num", "int", "bool"):
                coef = fit_linear(sp, [s], target)
                if coef is not None:
                    out.append(Candidate(SOp("linear", (s,), coef, "num", None, s.cost + 1), s.cost + 1.5))
                    continue
            if _categorical(s) or s.kind == "num" and s.n_values() <= MAX_VALUES:
                found = table([s])
                if found is not None:
                    out.append(Candidate(SOp("table", (s,), (found, kind), kind, None, s.cost + 1),
                                         s.cost + 1 + 0.05 * len(found)))
        if out:
            return out
        # two-input functions: over SOps of cost <= PAIR_COST only (pairs grow quadratically)
        cheap = [s for s in self.bank if s.cost <= min(c, PAIR_COST) and (_categorical(s) or s.kind == "num")]
        for a, b in itertools.combinations(cheap[:MAX_PAIR_SOPS], 2):
            if max(a.cost, b.cost) != c:
                continue
            if time.monotonic() > deadline:
                break
            if kind == "num" and a.kind == b.kind == "num":
                coef = fit_linear(sp, [a, b], target)
                if coef is not None:
                    out.append(Candidate(SOp("linear", (a, b), coef, "num", None, a.cost + b.cost + 1),
                                         a.cost + b.cost + 1.5))
                    continue
            if a.kind == "num" or b.kind == "num":
                continue
            found = table([a, b])
            if found is not None:
                out.append(Candidate(SOp("table", (a, b), (found, kind), kind, None, a.cost + b.cost + 1),
                                     a.cost + b.cost + 2 + 0.05 * len(found)))
        return out
