"""Scores that reward explanation: the tabulated flag on crafted submissions, implementation size,
family-level label credit, and the report's family and explained columns (recomputed by rescore)."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.scoring.explanation import ast_size, explain, tabulation
from tracr_agent.agent.scoring.score import score_family, score_prediction
from tracr_agent.tools.subjects.tasks import get_task
from tracr_agent.tools.subjects.zoo import FAMILIES, all_tasks

V4, N5 = ("a", "b", "c", "d"), 5
DOMAIN = [x for n in range(1, N5 + 1) for x in itertools.product(V4, repeat=n)]


def rev(x) -> list:
    return list(reversed(x))


# -- tabulated: crafted submissions that enumerate inputs ---------------------------------------

def table_keyed_by_whole_inputs() -> str:
    table = {x: rev(x) for x in DOMAIN}
    return f"def f(tokens):\n    TABLE = {table!r}\n    return TABLE[tuple(tokens)]\n"


def table_keyed_by_joined_strings() -> str:
    table = {"".join(x): rev(x) for x in DOMAIN[:40]}
    return f"def f(tokens):\n    return {table!r}.get(''.join(tokens))\n"


def table_keyed_by_position_and_sequence() -> str:
    table = {(i, x): x[-1 - i] for x in DOMAIN[:10] for i in range(len(x))}
    return f"def f(tokens):\n    T = {table!r}\n    return [T[(i, tuple(tokens))] for i in range(len(tokens))]\n"


def if_chain_over_whole_inputs() -> str:
    body = "".join(f"    if tokens == {list(x)!r}:\n        return {rev(x)!r}\n" for x in DOMAIN[-40:])
    return "def f(tokens):\n" + body + "    return list(tokens)\n"


def if_chain_of_position_tests() -> str:
    body = "".join(f"    if len(tokens) == 3 and tokens[0] == {x[0]!r} and tokens[1] == {x[1]!r} and tokens[2] == {x[2]!r}:\n"
                   f"        return {rev(x)!r}\n" for x in itertools.product(V4, repeat=3))
    return "def f(tokens):\n" + body + "    return None\n"


def giant_list_of_outputs() -> str:
    outs = [rev(x) for x in DOMAIN]
    return ("def f(tokens):\n    OUT = " + repr(outs) + "\n    i = 0\n    for t in tokens:\n"
            "        i = i * 4 + 'abcd'.index(t)\n    return OUT[i % len(OUT)]\n")


def giant_list_of_scalars() -> str:
    return "def f(tokens):\n    CODES = " + repr(list(range(300))) + "\n    return [CODES[0]] * len(tokens)\n"


@pytest.mark.parametrize("make", [table_keyed_by_whole_inputs, table_keyed_by_joined_strings,
                                  table_keyed_by_position_and_sequence, if_chain_over_whole_inputs,
                                  if_chain_of_position_tests, giant_list_of_outputs, giant_list_of_scalars])
def test_enumerations_are_flagged_tabulated(make):
    e = explain(make(), V4, N5)
    assert e.tabulated and e.reason, make.__name__


# -- not tabulated: mechanisms, including one step's table over values ---------------------------

MECHANISMS = {
    "sorted": "def f(tokens):\n    return sorted(tokens)\n",
    "elementwise dict": 'def f(tokens):\n    return [{"a": 1, "b": 2}[t] for t in tokens]\n',
    "elementwise table over the vocab": "def f(tokens):\n    table = {'a': 'b', 'b': 'c', 'c': 'd', 'd': 'a'}\n"
                                        "    return [table[t] for t in tokens]\n",
    "two-input map over value pairs": "def f(tokens):\n    T = " + repr({(a, b): (a * b) % 7 for a in range(6) for b in range(6)})
                                      + "\n    return [T[(t, i)] for i, t in enumerate(tokens)]\n",
    "one pattern test": "def f(tokens):\n    return [None if i < 2 else tokens[i-2:i+1] == ['a', 'b', 'c'] "
                        "for i in range(len(tokens))]\n",
    "a few position lists": "def f(tokens):\n    order = [4, 3, 2, 1, 0]\n    keep = (0, 1, 2)\n"
                            "    return [tokens[i] for i in order[5 - len(tokens):]]\n",
}


@pytest.mark.parametrize("name", list(MECHANISMS))
def test_mechanisms_are_not_tabulated(name):
    e = explain(MECHANISMS[name], V4, N5)
    assert not e.tabulated, (name, e.reason)


def test_a_small_domain_uses_the_minimum_and_a_big_one_its_share():
    few = "def f(tokens):\n" + "".join(f"    if tokens == {list(x)!r}:\n        return 1\n" for x in DOMAIN[-9:])
    assert tabulation(few, V4, N5) is None          # 9 whole inputs of 1364: under 2% (27)
    assert tabulation(few, ("a", "b"), 3) is not None  # 9 whole inputs of 14: over the minimum of 8


def test_size_and_ratio():
    assert ast_size("def f(tokens):\n    return sorted(tokens)\n") == 10
    assert ast_size("def f(:") is None and ast_size(None) is None
    e = explain("def f(tokens):\n    return sorted(tokens)\n", (1, 2), 3, "def f(tokens):\n    return list(sorted(tokens))\n")
    assert e.size == 10 and e.reference_size == 13 and e.size_ratio == round(10 / 13, 3)
    assert explain("def f(:", (1, 2), 3).size is None  # unparsable: no size, not tabulated either
    assert not explain("def f(:", (1, 2), 3).tabulated


def test_a_correct_table_scores_functional_but_not_explained(reverse_subject):
    s = score_prediction({"label": "reverse", "implementation": table_keyed_by_whole_inputs()}, reverse_subject)
    assert s.functional.correct and s.explanation.tabulated and s.explained is False
    assert s.explanation.size_ratio > 50
    s = score_prediction({"label": "reverse", "implementation": "def f(tokens):\n    return tokens[::-1]\n"},
                         reverse_subject)
    assert s.functional.correct and not s.explanation.tabulated and s.explained is True


# -- family-level label credit --------------------------------------------------------------------

def test_every_zoo_task_has_a_known_family():
    families = {t.family for t in all_tasks()}
    assert families <= set(FAMILIES) and {"permutation", "aggregation", "counting", "elementwise map"} <= families


@pytest.mark.parametrize("task_id,label,credit", [
    ("sort", "a permutation", True),
    ("sort", "permutation of the input tokens", True),
    ("reverse", "reordering", True),
    ("sort", "reverse", True),                   # another permutation task: right family, wrong task
    ("sort_descending", "Sorting", True),
    ("length", "an aggregation", True),          # counting is also an aggregation (the prior study's credit)
    ("length", "count", True),
    ("hist", "histogram", True),
    ("max_broadcast", "broadcast of the maximum", True),
    ("increment_map", "elementwise map", True),
    ("increment_map", "element-wise function", True),
    ("is_sorted", "a boolean check", True),
    ("sort", "aggregation", False),
    ("sort", "count", False),
    ("max_broadcast", "counting", False),        # aggregation does not imply counting
    ("length", "permutation", False),
    ("reverse", "", False),
    ("reverse", "mapping", False),
])
def test_family_credit(task_id, label, credit):
    task = get_task(task_id)
    family, ok = score_family(label, task)
    assert family == task.family and ok is credit, (task_id, label)


def test_family_in_scores_and_none_without_a_family(reverse_subject):
    s = score_prediction({"label": "a permutation", "implementation": "def f(t):\n    return t[::-1]\n"}, reverse_subject)
    assert not s.label.correct and s.label.family == "permutation" and s.label.family_correct
    assert score_family("a permutation", object()) == (None, None)


# -- the report and rescore -----------------------------------------------------------------------

def test_report_shows_family_and_explained_and_rescore_recomputes_them(tmp_path):
    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["eval", "--tasks", "reverse", "--conditions", "full", "--llm", "baseline",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert rec["family_correct"] is not None and rec["explained"] is not None
    md = (out / "report.md").read_text()
    assert "family acc" in md and "explained" in md
    # an old results line (before scorer version 2) has neither: the report scores the transcript afresh
    # (it trusts no recorded score), and rescore fills them in
    old = {k: v for k, v in rec.items() if k not in ("family_correct", "explained")}
    old["score"] = {k: v for k, v in rec["score"].items() if k not in ("explanation", "explained")}
    (out / "results.jsonl").write_text(json.dumps(old) + "\n")
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    row = next(line for line in (out / "report.md").read_text().splitlines() if line.startswith("| reverse |"))
    assert row.split("|")[6].strip() != "-" and row.split("|")[8].strip() != "-"  # family, explained
    r = CliRunner().invoke(app, ["rescore", str(out)])
    assert r.exit_code == 0, r.output
    new = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert new["explained"] == rec["explained"] and new["family_correct"] == rec["family_correct"]
    assert new["score"]["explanation"]["size"] == rec["score"]["explanation"]["size"]


def test_a_generated_task_is_measured_against_its_program_rendering():
    from tracr_agent.agent.scoring.score import reference_source

    task = get_task("gen-1-1-0")
    ref = reference_source(task)
    assert ref == task.extra["rendering"] and ast_size(ref) > 5
    assert reference_source(get_task("sort")).startswith("def f(tokens):")


def test_score_line_shows_family_credit_when_the_label_misses():
    """A label that names the family but not the task ("a permutation" for sort) is shown with its credit."""
    from tracr_agent.agent.render.live import score_parts
    from tracr_agent.agent.scoring.verdicts import LabelScore, Score

    miss = Score(label=LabelScore(correct=False, family="permutation", family_correct=True))
    assert score_parts(miss, markup=False) == ["label wrong (family permutation correct)"]
    wrong = Score(label=LabelScore(correct=False, family="permutation", family_correct=False))
    assert score_parts(wrong, markup=False) == ["label wrong"]
