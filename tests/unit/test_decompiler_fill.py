"""Filling table entries no read observed from decoded outputs (agent/investigators/decompiler/fill.py),
on recovered programs built by hand: an MLP entry the outputs decide is filled with its value, an
entry two tables read in turn is filled with its partner, one whose true value no table holds is
refuted and left open, and the program itself is left as it was until the entries are applied."""

from __future__ import annotations

import itertools

from tracr_agent.agent.investigators.decompiler import fill
from tracr_agent.agent.investigators.decompiler.program import MlpStep, Program, source

VOCAB = ("a", "b", "c", "d")


def run(prog: Program, x) -> list:
    scope: dict = {}
    exec(source(prog), scope)
    return scope["f"](list(x))


def domain(max_len: int = 3) -> list[tuple]:
    return [x for n in range(1, max_len + 1) for x in itertools.product(VOCAB, repeat=n)]


def shift_program(table: dict) -> Program:
    """m0 = a table of the token (the letter's rank, shifted), the output m1 = a table of m0."""
    return Program(steps=[
        MlpStep(0, "m0", ["tokens"], table=dict(table), default=0),
        MlpStep(1, "m1", ["m0"], table={0: "x", 1: "y", 2: "z", 3: "w"}, default="x"),
    ], output="m1")


TRUE = {"a": 1, "b": 2, "c": 1, "d": 0}


def outputs_of(table: dict, xs) -> dict:
    return {x: run(shift_program(table), x) for x in xs}


def test_an_entry_the_outputs_decide_is_filled_with_its_value():
    observed = {k: v for k, v in TRUE.items() if k != "c"}  # the reads never saw token c
    prog = shift_program(observed)
    outs = outputs_of(TRUE, domain())
    found = fill.search(prog, outs, numerical=False)
    assert [(e, v, unique) for e, v, unique, _ in found] == [((0, "c"), 1, True)]
    assert "c" not in prog.steps[0].table  # search leaves the program as it was
    words = fill.apply(prog, found)
    assert prog.steps[0].table["c"] == 1 and words == ["m0['c'] = 1"]
    assert all(run(prog, x) == y for x, y in outs.items())
    # the inputs reaching the entry are reported (what a check's freshness is judged by)
    reaching = found[0][3]
    assert reaching and all("c" in x for x in reaching)


def test_an_entry_no_wrong_output_reaches_is_left_open():
    observed = {k: v for k, v in TRUE.items() if k != "c"}
    prog = shift_program(observed)
    outs = outputs_of(TRUE, [x for x in domain() if "c" not in x])
    assert fill.search(prog, outs, numerical=False) == []


def test_a_value_no_table_holds_refutes_a_fill_that_only_helps_some_runs():
    """The true value of m0 at c is 4, which m0's table never holds. The value 3 (held at e) gives the
    right output where c stands first, a wrong one where it stands second: those runs reach no other
    open entry, so 3 is refuted, not taken for the runs it happens to get right."""
    def program(m0: dict) -> Program:
        m1 = {(v, i): "w" if v in (3, 4) and i == 0 else ("v" if v == 3 else "x") for v in range(5) for i in range(2)}
        m1.update({(4, 1): "w"})
        return Program(steps=[
            MlpStep(0, "m0", ["tokens"], table=m0, default=0),
            MlpStep(1, "m1", ["m0", "indices"], table=m1, default="x"),
        ], output="m1")

    truth = program({**TRUE, "c": 4})
    outs = {x: run(truth, x) for x in domain(2)}
    recovered = program({"a": 1, "b": 2, "d": 0, "e": 3})
    assert any(run(recovered, x) != y for x, y in outs.items())
    assert fill.search(recovered, outs, numerical=False) == []


def test_two_entries_read_in_turn_are_filled_together():
    """m0 at c is open, and so is m1 at the value it takes there: neither alone makes an output
    right, the pair does."""
    prog = Program(steps=[
        MlpStep(0, "m0", ["tokens"], table={"a": 1, "b": 2, "d": 0, "e": 3}, default=0),
        MlpStep(1, "m1", ["m0"], table={0: "x", 1: "y", 2: "z", 5: "w"}, default="x"),
    ], output="m1")
    truth = Program(steps=[
        MlpStep(0, "m0", ["tokens"], table={"a": 1, "b": 2, "c": 3, "d": 0, "e": 3}, default=0),
        MlpStep(1, "m1", ["m0"], table={0: "x", 1: "y", 2: "z", 3: "w", 5: "w"}, default="x"),
    ], output="m1")
    outs = {x: run(truth, x) for x in domain()}
    found = fill.search(prog, outs, numerical=False)
    fill.apply(prog, found)
    assert prog.steps[0].table["c"] == 3 and prog.steps[1].table[3] == "w"
    assert all(run(prog, x) == y for x, y in outs.items())


def verdict(last_check: list[tuple], earlier: list[tuple]):
    """The decompiler's confidence in the shift program recovered without token c, after filling it from
    the outputs of `earlier` inputs and of a last check on `last_check`."""
    from tracr_agent.agent.investigators.decompiler import confidence
    from tracr_agent.agent.investigators.decompiler.analysis import Decompilation
    from tracr_agent.agent.investigators.decompiler.investigator import _fill

    dec = Decompilation(shift_program({k: v for k, v in TRUE.items() if k != "c"}), [])
    last = outputs_of(TRUE, last_check)
    outs = {**outputs_of(TRUE, earlier), **last}
    info = {"vocab": list(VOCAB), "max_seq_len": 3, "numerical": False}
    _fill(dec, outs, [last], info)
    assert dec.program.steps[0].table.get("c") == 1
    src = source(dec.program)
    return confidence.assess(dec, src, info, 0, 0, [last], outs, src)


def test_an_entry_only_the_last_check_decided_is_a_fit_not_a_verification():
    with_c = [x for x in domain() if "c" in x]
    without_c = [x for x in domain() if "c" not in x]
    fitted = verdict(last_check=with_c, earlier=without_c)
    assert fitted.confidence <= 0.6 and "a fit, not a finding" in fitted.words
    checked = verdict(last_check=with_c[::2], earlier=without_c + with_c[1::2])
    assert checked.confidence >= 0.9, checked.words
