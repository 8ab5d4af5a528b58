"""The offline label matcher, measured on the labelled set it ships with (agent/scoring/data/labels.jsonl):
precision and recall on the tuning part and on the held-out part, the set's coverage of the zoo and of
the generated families, the concept reading (negation, literals, notation), and rescoring old results."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from tracr_agent.agent.scoring import labelset
from tracr_agent.agent.scoring.concepts import SPECS
from tracr_agent.agent.scoring.labels import family_credit, match_label, program_family
from tracr_agent.agent.scoring.lexicon import read
from tracr_agent.agent.scoring.verdicts import JudgeScore, Score
from tracr_agent.tools.subjects.zoo import ZOO, get_task

GOAL = 0.95


@pytest.fixture(scope="module")
def examples():
    return labelset.load()


@pytest.fixture(scope="module")
def measured(examples):
    return labelset.measure(examples)


# -- the labelled set ---------------------------------------------------------------------------------

def test_the_set_is_large_covers_the_zoo_and_the_generated_families_and_has_a_held_out_part(examples):
    assert len(examples) >= 300
    splits = Counter(e.split for e in examples)
    assert set(splits) == {"tune", "test"} and splits["test"] >= 150
    zoo = [e for e in examples if not e.generated]
    for task_id in ZOO.ids():  # every task: labels a person accepts and near-misses, in both parts
        for split in ("tune", "test"):
            verdicts = {e.accept for e in zoo if e.task == task_id and e.split == split}
            assert verdicts == {True, False}, (task_id, split)
    generated = [e for e in examples if e.generated]
    assert {e.family for e in generated} >= {"counting", "aggregation", "permutation", "elementwise map"}
    assert {e.split for e in generated} == {"tune", "test"} and {e.accept for e in generated} == {True, False}
    assert len({(e.task, e.label) for e in examples}) == len(examples)  # no label counted twice


def test_the_derived_family_of_each_labelled_generated_program_is_the_annotated_one(examples):
    for e in examples:
        if e.generated:
            assert program_family(labelset.program_of(e.program)) == e.family, e.task


@pytest.mark.parametrize("split", ["tune", "test"])
@pytest.mark.parametrize("part", ["zoo", "all"])
def test_precision_and_recall_meet_the_goal(measured, split, part):
    figures, misses = measured
    f = figures[(split, part)]
    wrong = [(e.task, e.label, "accepted" if said else "rejected") for e, said in misses if e.split == split]
    assert f.precision >= GOAL and f.recall >= GOAL, (f, wrong)


def test_generated_family_verdicts_meet_the_goal_over_the_whole_set(measured):
    f = measured[0][("all", "generated")]
    assert f.precision >= GOAL and f.recall >= GOAL, f


def test_every_zoo_task_has_a_concept_spec():
    assert set(ZOO.ids()) <= set(SPECS), sorted(set(ZOO.ids()) - set(SPECS))


def test_the_data_is_package_data():
    from importlib import resources

    assert resources.files("tracr_agent.agent.scoring").joinpath("data", labelset.DATA).is_file()
    pyproject = (__import__("pathlib").Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"tracr_agent.agent.scoring" = ["data/*.jsonl"]' in pyproject


# -- the labels, and what the rules say ---------------------------------------------------------

@pytest.mark.parametrize("task_id,label", [
    ("hist", "histogram"), ("sort", "stable sort"), ("reverse", "Reverse the input sequence"),
    ("sort", "Sorting (ascending order)"), ("hist", "The model computes a histogram of token counts"),
    ("length", "len(tokens)"), ("count", "number of a's"), ("sort_descending", "sort then reverse"),
])
def test_labels_a_researcher_accepts(task_id, label):
    v = match_label(label, get_task(task_id))
    assert v.correct and v.matched_by.startswith(("concept:", "exact")), v


@pytest.mark.parametrize("task_id,label,why", [
    ("sort", "sort descending", "contradicts the task: descending"),
    ("rotate_left", "reverse", "contradicts the task: reverse"),
    ("hist", "count of token a", "contradicts the task: lit:a"),
    ("sort_freq", "sort", "does not name the task: needs "),
    ("shift_by", "shift right by one", "contradicts the task: one"),
    ("reverse", "reverse except the first token", "contradicts the task: except"),
    ("sort", "sort, not ascending", "contradicts the task: negates ascending"),
    ("is_sorted", "sort", "does not name the task: needs check + sort"),
])
def test_near_misses_are_rejected_with_the_reason(task_id, label, why):
    v = match_label(label, get_task(task_id))
    assert not v.correct and v.reason.startswith(why), v


def test_reading_handles_negation_literals_and_notation():
    r = read("sort, not descending", (1, 2, 3))
    assert r.concepts == {"sort"} and r.negated == {"descending"}
    assert read("sort without removing duplicates").negated == {"unique"}
    assert read("count of 'b'", "abc").concepts == {"count", "lit:b"}
    assert "lit:a" not in read("count of a token", "abc").concepts  # "a" the article
    assert "lit:a" in read("number of a's", "abc").concepts
    assert "lit:x" not in read("x + 1", (0, 1, 2)).concepts  # x is a variable where it is no token
    assert read("tokens[::-1]").concepts == {"reverse", "token"}
    assert read("output[i] = input[i-2]").concepts == {"previous", "two"}
    assert read("non-decreasing").concepts == {"ascending"}


def test_family_credit_says_how():
    assert family_credit("cyclic shift", "permutation") == "phrase:shift"
    assert family_credit("roll by one", "permutation") == "concept:rotate"
    assert family_credit("an aggregation", "counting") == "parent:aggregation"
    assert family_credit("the maximum", "counting") is None  # a specific aggregation is not a count
    assert family_credit("(token + 3) mod 5", "elementwise map") == "concept:mod"
    assert family_credit("count of tokens mod 3", "elementwise map") is None  # arithmetic on a count


# -- old scores, and rescore -----------------------------------------------------------------------------

def test_scores_written_before_matched_by_still_load():
    old = {"label": {"correct": True, "matched": "sort", "family": "permutation", "family_correct": True},
           "judge": {"correct": True, "model": "m", "rationale": "ok"}, "scorer_version": "2"}
    s = Score.model_validate(old)
    assert s.label.matched_by is None and s.label.reason is None and s.label.family_by is None
    assert s.judge == JudgeScore(correct=True, model="m", rationale="ok") and s.judge.label_correct is None


def test_rescore_recomputes_label_verdicts_with_the_matcher(tmp_path):
    from terminal import cli

    env = dict(os.environ)
    out = tmp_path / "ev"
    r = cli(env, "eval", "--tasks", "reverse", "--conditions", "full", "--llm", "baseline", "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    rec = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    # an old run: the agent said "Reverse the input sequence", which the old scorer marked wrong
    path = out / rec["transcript"]
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for e in events:
        if e["type"] == "prediction":
            e["label"] = "Reverse the input sequence"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    rec["label"], rec["label_correct"] = "Reverse the input sequence", False
    rec["score"]["label"] = {"correct": False, "matched": None, "family": "permutation", "family_correct": True}
    rec["score"]["scorer_version"] = "2"
    (out / "results.jsonl").write_text(json.dumps(rec) + "\n")
    r = cli(env, "rescore", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    new = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert new["label_correct"] is True and new["score"]["scorer_version"] == "3"
    assert new["score"]["label"]["matched_by"] == "concept:reverse"
    r = cli(env, "report", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    md = (out / "report.md").read_text()
    assert "## Labels: verdicts and the rule or judge behind each" in md
    assert "| reverse | Reverse the input sequence | correct | concept:reverse | names reverse ('reverse') | 1 |" in md


def test_the_result_line_says_which_rule_or_judge_accepted_the_label():
    from rich.console import Console

    from tracr_agent.agent.render.live import score_line, score_parts
    from tracr_agent.agent.scoring.verdicts import LabelScore

    assert score_parts(Score(label=LabelScore(correct=True, matched_by="concept:sort")), markup=False) == \
        ["label correct (concept:sort)"]
    generated = Score(label=LabelScore(correct=None, family="counting", family_correct=True))
    assert score_parts(generated, markup=False) == ["label n/a (family counting correct)"]
    judged = Score(label=LabelScore(correct=True, matched_by="judge:[bold]m[/]"))  # a name, not markup
    console = Console(record=True, width=200)
    console.print(score_line(judged))
    assert "label correct (judge:[bold]m[/])" in console.export_text()
