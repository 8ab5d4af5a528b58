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
from tracr_agent.tools.subjects.zoo import get_task
from tracr_agent.tools.suite.ablation import _outputs_differ

NAN, INF = float("nan"), float("inf")
ROOT = Path(__file__).resolve().parents[1]


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


# Tolerances that are not "is this the same output?": the decompiler fits rules and linear maps to
# residual values read back at 3 decimals and detects one-hot dimensions; its fits need their own slack.
NOT_OUTPUT_COMPARISONS = {
    "agent/investigators/decompiler/heads.py", "agent/investigators/decompiler/mlps.py",
    "agent/investigators/decompiler/discovery.py",
}


def test_no_module_keeps_its_own_comparison():
    """The tolerance and the comparison live in compare.py only (they once lived in four places
    with two different tolerances)."""
    own = re.compile(r"\b(?:NUM_TOL|TOL|TOLERANCE)\s*=|isclose\(|allclose\(|def same_outputs|def _equal\(")
    offenders = []
    for folder in ("agent", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == Path(compare.__file__).resolve() or str(path.relative_to(ROOT)) in NOT_OUTPUT_COMPARISONS:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if own.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
