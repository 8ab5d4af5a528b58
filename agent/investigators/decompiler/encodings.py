"""Tuples a label-free residual encodes as ordinals, decoded back into tuples.

tracr writes a SequenceMap that pairs two values (`(token, index)`) as one categorical variable
whose dims are the pairs in sorted order; read without labels, its values are the dims' ordinals
(0, 1, … in the pairs' order). The decompiler then recovers an MLP from the pair's inputs to an
ordinal, and every reader of the variable as a table over ordinals — true, but opaque: a head
selecting `k[0] == 'a' and k[1] <= q` shows up as a table over numbers.

An MLP of two or three inputs whose table is one-to-one is such an encoding; when every reader of
its output reads it through a table, a comparison the tuple keeps (== and != always; an order
comparison when the ordinals follow the tuples' order), or moves it renamed by a table, the variable
is the tuple itself: the MLP
becomes the pair, the readers' tables are re-keyed by it, and the tuple's ordinal is remembered for
the check against the recovered program (account.py).
"""

from __future__ import annotations

from copy import copy
from itertools import permutations
from typing import Optional

from tracr_agent.agent.investigators.decompiler.program import HeadStep, MlpStep

ORDER_RULES = ("<", "<=", ">", ">=")


def _order(table: dict) -> Optional[tuple]:
    """The order of the inputs under which the tuples sort as their ordinals (None: no order does)."""
    keys = sorted(table, key=lambda k: table[k])
    arity = len(keys[0])
    for perm in permutations(range(arity)):
        seq = [tuple(k[i] for i in perm) for k in keys]
        try:
            if all(a < b for a, b in zip(seq, seq[1:])):
                return perm
        except TypeError:  # values of different types in one position: no order
            return None
    return None


def _is_encoding(st, output: Optional[str]) -> bool:
    if not isinstance(st, MlpStep) or st.linear is not None or len(st.inputs) not in (2, 3) or st.out == output:
        return False
    values = list(st.table.values())
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values) \
        and len(set(values)) == len(values)


def _rekey(st, var: str, tuples: dict, ordered: bool):
    """A copy of the reader with `var`'s ordinals read as their tuples, or None when it cannot be."""
    st = copy(st)
    try:
        if isinstance(st, MlpStep):
            if st.linear is not None:
                return None
            at = [i for i, v in enumerate(st.inputs) if v == var]
            if len(st.inputs) == 1:
                st.table = {tuples[k]: v for k, v in st.table.items()}
            else:
                st.table = {tuple(tuples[x] if i in at else x for i, x in enumerate(k)): v for k, v in st.table.items()}
            return st
        if st.rule in ORDER_RULES and var in (st.query, st.key) and not (ordered and st.query == st.key == var):
            return None  # an order the tuples do not keep
        if st.value == var:
            if st.mode != "pick" or not st.vmap:
                return None  # averaged, or moved as the ordinal itself
            st.vmap = {tuples[k]: v for k, v in st.vmap.items()}  # what is written for each tuple moved
        if st.rule == "table":
            st.table = {(tuples[q] if st.query == var else q, tuples[k] if st.key == var else k): s
                        for (q, k), s in st.table.items()}
        return st
    except KeyError:  # an ordinal the encoding's own table never showed
        return None


def decode(steps: list, output: Optional[str], keep: frozenset) -> tuple[list, dict]:
    """(the steps with every decodable encoding read as its tuple, {variable: {tuple: ordinal}})."""
    encodings: dict = {}
    for st in list(steps):
        if not _is_encoding(st, output) or st.out in keep:
            continue
        order = _order(st.table)
        perm = order or tuple(range(len(st.inputs)))
        tuples = {o: tuple(k[i] for i in perm) for k, o in st.table.items()}
        readers = [r for r in steps if st.out in _reads(r)]
        rekeyed = [_rekey(r, st.out, tuples, order is not None) for r in readers]
        if not readers or any(r is None for r in rekeyed):
            continue
        pair = copy(st)
        pair.inputs = [st.inputs[i] for i in perm]
        pair.table = {tuple(k[i] for i in perm): tuples[o] for k, o in st.table.items()}
        pair.default = None
        swap = {id(r): n for r, n in zip(readers, rekeyed)}
        steps = [pair if s is st else swap.get(id(s), s) for s in steps]
        encodings[st.out] = {t: o for o, t in tuples.items()}
    return steps, encodings


def _reads(st) -> set:
    if isinstance(st, HeadStep):
        return {st.query, st.key} | ({st.value} if st.value else set())
    return set(st.inputs)
