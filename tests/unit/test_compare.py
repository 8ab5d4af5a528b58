"""One output comparison with one tolerance (tools/subjects/compare.py), used by verification,
scoring, the ablate/patch tools and the rule-based investigators alike."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tracr_agent.agent.investigators.hypotheses import Hypothesis
from tracr_agent.agent.scoring.score import score_functional
from tracr_agent.tools.subjects import compare
from tracr_agent.tools.subjects.compare import NUM_TOL, outputs_equal, value_equal
from tracr_agent.tools.subjects.tasks import get_task
from tracr_agent.tools.suite.ablation import _outputs_differ

NAN, INF = float("nan"), float("inf")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("x,y,numerical,equal", [
    (None, None, False, True), (None, None, True, True),
    (None, 0, False, False), (None, 0.0, True, False), (None, "a", False, False),
    ("a", "a", False, True), ("a", "b", False, False),
    (1, 1, False, True), (True, True, False, True),
    (True, 1, False, False), (False, 0, False, False),  # a bool is not the token 1/0, either way round
    (0.5, 0.5 + NUM_TOL / 2, True, True), (0.5, 0.5 + 2 * NUM_TOL, True, False),
    (1, 1.0004, True, True),  # an int reference against a float output
    (NAN, NAN, True, False), (NAN, 1.0, True, False), (INF, INF, True, False), (-INF, 1.0, True, False),
    ("x", 1.0, True, False), ("1.0", "1.0", True, True),  # numbers as text are read as numbers
    ([1.0], 1.0, True, False), (10 ** 400, 1.0, True, False),  # not a number; too large for a float
])
def test_value_rules_are_symmetric(x, y, numerical, equal):
    assert value_equal(x, y, numerical) is equal
    assert value_equal(y, x, numerical) is equal
    assert outputs_equal([x], [y], numerical) is equal and outputs_equal((y,), (x,), numerical) is equal


def test_sequences_need_the_same_length_and_a_sequence_type():
    assert outputs_equal([], [], False)
    assert not outputs_equal([1, 2], [1], False) and not outputs_equal([1], [1, 2], False)
    assert not outputs_equal("ab", ["a", "b"], False) and not outputs_equal(None, None, False)
    assert not outputs_equal({0: 1}, [1], False)
    assert outputs_equal([0.25, None, 1.0], (0.2504, None, 0.9996), True)


def test_scoring_refuses_a_bool_for_an_int_output(length_subject):
    # `length` outputs the int 1 on a one-token input; True must not pass for it (nor 1 for True).
    impl = "def f(tokens):\n    return [True if len(tokens) == 1 else len(tokens)] * len(tokens)\n"
    s = score_functional(impl, length_subject, inputs=[["a"], ["a", "b"]])
    assert s.agreement == 0.5 and not s.correct
    assert s.first_mismatch == "input ['a']: expected [1], got [True]"


def test_scoring_uses_the_same_tolerance(load):
    subject = load("frac_prevs")
    inputs = [["x", "y", "y"], ["y", "x"]]
    exact = subject.run(inputs)
    table = {tuple(x): y for x, y in zip(inputs, exact)}
    ok = f"def f(tokens):\n    return [v + {NUM_TOL / 2} for v in {table!r}[tuple(tokens)]]\n"
    bad = ok.replace(str(NUM_TOL / 2), str(NUM_TOL * 2))
    assert score_functional(ok, subject, inputs=inputs).correct
    assert score_functional(bad, subject, inputs=inputs).agreement == 0.0


def test_a_mismatch_shows_both_values_unrounded(load):
    # a value off by 2e-3 at the 4th significant digit would print the same on both sides if rounded
    subject = load("frac_prevs")
    x = ["x", "y", "y"]
    want = subject.run([x])[0]
    impl = f"def f(tokens):\n    return [v + 0.002 for v in {want!r}]\n"
    s = score_functional(impl, subject, inputs=[x])
    assert s.first_mismatch == f"input {x!r}: expected {want!r}, got {[v + 0.002 for v in want]!r}"


def test_ablation_reports_a_change_by_the_same_rule():
    numerical, categorical = SimpleNamespace(output_kind="numerical"), SimpleNamespace(output_kind="categorical")
    assert not _outputs_differ(numerical, 0.5, 0.5 + NUM_TOL / 2)
    assert _outputs_differ(numerical, 0.5, 0.5 + 2 * NUM_TOL)
    assert _outputs_differ(numerical, NAN, NAN)  # a NaN after an ablation is a change, not "the same"
    assert not _outputs_differ(numerical, None, None) and _outputs_differ(numerical, None, 0.0)
    assert _outputs_differ(categorical, True, 1) and not _outputs_differ(categorical, "a", "a")


def test_hypotheses_survive_printed_rounding_but_not_a_wrong_value():
    task = get_task("frac_prevs")
    h = Hypothesis(task.id, task.description, task.reference_source(), task.reference, True)
    x = ("x", "y", "y")
    true = task.reference(list(x))  # [1.0, 0.5, 0.333…]
    printed = [round(v, 3) for v in true]  # decode_residual prints 3 decimals
    assert h.consistent({x: printed}, numerical=True)
    assert not h.consistent({x: [true[0], true[1], true[2] + 1.5e-3]}, numerical=True)
    assert not h.consistent({x: [True, 0.5, 0.333]}, numerical=False)


@pytest.mark.parametrize("a,b,tol,inside", [
    (0.5, 0.5 + NUM_TOL / 2, NUM_TOL, True), (0.5, 0.5 + 2 * NUM_TOL, NUM_TOL, False),
    (NAN, NAN, NUM_TOL, False), (INF, INF, NUM_TOL, False), (1.0, 0.95, compare.DECODE_TOL, True),
])
def test_within_is_the_numerical_rule_for_numbers_and_arrays(a, b, tol, inside):
    import numpy as np

    assert bool(compare.within(a, b, tol)) is inside and bool(compare.within(b, a, tol)) is inside
    assert compare.within(np.array([a, 0.0]), np.array([b, 0.0]), tol).tolist() == [inside, True]
    if tol == NUM_TOL and a == a and abs(a) != INF:
        assert value_equal(a, b, numerical=True) is inside  # the same rule as the output comparison


def test_nonzero_means_not_zero_to_the_tolerance():
    import numpy as np

    assert compare.nonzero(np.array([0.0, NUM_TOL / 2, -2 * NUM_TOL, 1.0])).tolist() == [False, False, True, True]
    assert not compare.nonzero(5e-7, compare.FLOAT_NOISE) and compare.nonzero(-2e-6, compare.FLOAT_NOISE)


def test_a_held_value_is_a_number_to_the_tolerance_and_a_flag_is_its_number():
    """The decompiler's check of a decompiled variable against the residual stream."""
    held = compare.held_equal
    assert held(0.5, 0.5 + NUM_TOL / 2) and not held(0.5, 0.5 + 2 * NUM_TOL) and held(1, 1.0)
    assert held(True, 1.0) and held(False, 0) and not held(True, 0.0)  # a flag dim holds 0 or 1
    assert held("a", "a") and not held("a", "b") and held(None, None) and not held(None, 0.0)
    assert held(("a", 0), ("a", 0)) and not held("1.0", 1.0) and not held(NAN, NAN)


# What counts as a module keeping its own comparison: a tolerance constant, numpy's isclose/allclose,
# an absolute difference compared with anything, a small literal compared with anything, a helper
# named like a comparison. compare.py names every tolerance (each with its reason) and nothing is
# exempt; printing thresholds ask base.shows_nonzero what fmt_num prints instead of a literal.
OWN_COMPARISON = re.compile(
    r"\b[A-Z_]*TOL[A-Z_]*\s*=(?!=)|isclose\(|allclose\("
    r"|\babs\([^<>=]*\s-\s[^<>=]*\)\s*[<>]"
    r"|[<>]=?\s*\(?-?\d+(?:\.\d+)?e-\d+|\d(?:\.\d+)?e-\d+\s*[<>]"
    r"|def (?:same_outputs|_equal|_close)\(")


@pytest.mark.parametrize("line", [
    "        return abs(float(a) - float(b)) <= 2e-3",  # the decompiler's old check of its program
    "NUM_TOL = 2e-3", "TOL = 0.02", "HOT_TOL = 0.1",
    "    if np.max(np.abs(X @ np.array(coef) - y)) > NUM_TOL:",
    "        return bool(np.all(np.abs(a[ok] - b[ok]) <= NUM_TOL))",
    "    if abs(float(fr) - c) < 1e-9:", "ok = np.isclose(a, b)", "np.allclose(x, y, atol=1e-3)",
    "        return bool(np.any(np.abs(row[list(self.dims)]) > 1e-3))",
    "if 5e-4 <= abs(x):", "def _close(a, b) -> bool:",
])
def test_the_guard_recognises_an_own_comparison(line):
    assert OWN_COMPARISON.search(line)


@pytest.mark.parametrize("line", [
    "    if not np.all(within(X @ np.array(coef), y)):", "key=lambda v: abs(v - c))",
    "    scale = max((abs(v) for row in m.values for v in row), default=0.0)",
    "def within(a, b, tol=NUM_TOL):", "if NUM_TOL == other:",
])
def test_the_guard_passes_calls_of_compare(line):
    assert not OWN_COMPARISON.search(line)


def test_no_module_keeps_its_own_comparison():
    """Every tolerance and comparison lives in compare.py (they once lived in four places with two
    tolerances, then the decompiler kept five more): no module, without exception, keeps its own."""
    offenders = []
    for folder in ("agent", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == Path(compare.__file__).resolve():
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if OWN_COMPARISON.search(line.split("#")[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
