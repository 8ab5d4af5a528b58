"""The synthesis search's fast paths decide exactly what the plain definitions decide.

The search is bounded by a count of SOps evaluated, so a speed-up must not change what is
enumerated or accepted: `table_fits` (integer codes) against `fit_table` (the definition, on
value tuples), and the vectorized maps against the block applied value by value, on random
observations with missing values."""

from __future__ import annotations

import numpy as np
import pytest

from tracr_agent.agent.investigators.openworld import blocks as B
from tracr_agent.agent.investigators.openworld.synthesis import (NAN, SOp, Space, Synthesizer, fit_table, table_fits,
                                                                  target_codes)


def random_space(rng, n=40, length=6):
    inputs = [tuple(int(v) for v in rng.integers(0, 4, rng.integers(1, length + 1))) for _ in range(n)]
    return Space(inputs, [0, 1, 2, 3], length)


def random_sop(rng, space, n_values, p_missing=0.1):
    vals = rng.integers(0, n_values, space.mask.shape).astype(float)
    vals[rng.random(vals.shape) < p_missing] = NAN
    vals[~space.mask] = NAN
    return SOp("x", kind="int", vals=vals)


@pytest.mark.parametrize("seed", range(40))
def test_table_fits_decides_as_fit_table(seed):
    rng = np.random.default_rng(seed)
    space = random_space(rng, n=int(rng.integers(4, 40)))
    keys = [random_sop(rng, space, int(rng.integers(1, 5))) for _ in range(int(rng.integers(1, 3)))]
    # a target that is a function of the keys (sometimes), of something else (otherwise)
    if rng.random() < 0.6:
        table = rng.integers(0, 3, 64).astype(float)
        code = np.zeros(space.mask.shape, int)
        for k in keys:
            code = code * 5 + np.nan_to_num(k.vals, nan=4).astype(int)
        target = np.where(space.mask, table[code % 64], NAN)
        if rng.random() < 0.3:  # one position off: no longer a function
            n, i = np.argwhere(space.mask)[0]
            target[n, i] += 1
    else:
        target = random_sop(rng, space, 3).vals
    expected = fit_table(space, keys, target) is not None
    assert table_fits(space, keys, target_codes(space, target)) == expected


def test_maps_spread_each_distinct_value_as_the_block_does_position_by_position():
    rng = np.random.default_rng(7)
    space = random_space(rng)
    a, b = random_sop(rng, space, 4), random_sop(rng, space, 3)
    for f in B.int_maps([0, 1, 2, 3]):
        got = space.apply_map(f, a)
        for (n, i), v in np.ndenumerate(a.vals):
            want = NAN if np.isnan(v) else space.encode(f.fn(int(v)), f.kind_out)
            assert got.vals[n, i] == want or np.isnan(got.vals[n, i]) and np.isnan(want), (f.key, n, i)
    for f in [g for g in B.SEQ_MAPS if g.kind_in == "int"]:
        got = space.apply_seqmap(f, a, b)
        for (n, i), v in np.ndenumerate(a.vals):
            w = b.vals[n, i]
            want = NAN if np.isnan(v) or np.isnan(w) else space.encode(f.fn(int(v), int(w)), f.kind_out)
            assert got.vals[n, i] == want or np.isnan(got.vals[n, i]) and np.isnan(want), (f.key, n, i)


def test_reductions_read_the_selected_values():
    """Each aggregate SOp of a round holds, per query, the largest / smallest / the one selected value
    of its value SOp (and `unique` is refused when a query selects two different values)."""
    rng = np.random.default_rng(3)
    inputs = [tuple(int(v) for v in rng.integers(0, 4, rng.integers(1, 6))) for _ in range(30)]
    space = Space(inputs, [0, 1, 2, 3], 5)
    syn = Synthesizer(space, max_cost=1)
    syn.run(np.full(space.mask.shape, 99.0), "int")  # a target nothing reaches: the whole round runs
    tokens = space.primitives()[0].vals
    checked = 0
    for s in syn.bank:
        if s.op != "reduce" or len(s.args) != 2 or s.args[0][0] != "select" or s.args[1].op != "tokens":
            continue
        _, keys, queries, cmp = s.args[0]
        sel = space.selector(keys, queries, cmp)
        for n, x in enumerate(inputs):
            for q in range(len(x)):
                picked = [tokens[n, k] for k in range(len(x)) if sel[n, q, k]]
                want = {"max": max(picked, default=None), "min": min(picked, default=None),
                        "unique": picked[0] if picked else None}[s.params[0]] if s.params[0] != "mean" else \
                    (sum(picked) / len(picked) if picked else 0.0)
                got = s.vals[n, q]
                assert (want is None and np.isnan(got)) or got == want, (s.params, cmp, x, q)
                checked += 1
        if s.params[0] == "unique":
            assert all(len({tokens[n, k] for k in range(len(x)) if sel[n, q, k]}) <= 1
                       for n, x in enumerate(inputs) for q in range(len(x)))
    assert checked > 500


def test_sums_and_distinct_values_match_their_definitions():
    """The mean's sums (a matrix product for integer values, numpy's sum for averaged ones) equal the
    plain sum over the selected keys, bit for bit; n_values counts the distinct values, None aside."""
    from tracr_agent.agent.investigators.openworld.synthesis import Aggregable

    rng = np.random.default_rng(11)
    space = random_space(rng)
    full = lambda v: np.where(space.mask, v, NAN)  # noqa: E731 - complete SOps, None off the inputs
    ints = SOp("i", kind="int", vals=full(rng.integers(-3, 4, space.mask.shape).astype(float)))
    flags = SOp("b", kind="bool", vals=full(rng.integers(0, 2, space.mask.shape).astype(float)))
    nums = SOp("n", kind="num", vals=full(rng.integers(0, 7, space.mask.shape) / 3.0))
    sel = space.selector(space.primitives()[1], space.primitives()[1], "LEQ")
    sums = Aggregable([ints, nums, flags]).sums(sel)
    for row, v in zip(sums, [ints, nums, flags]):
        want = np.where(sel, v.vals[:, None, :], 0.0).sum(-1)
        assert np.array_equal(row, want), v.kind
    for v in (ints, flags, nums, random_sop(rng, space, 5)):
        assert v.n_values() == len(set(v.vals[~np.isnan(v.vals)].tolist()))
