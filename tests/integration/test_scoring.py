"""Scoring: label matching, functional agreement on real zoo subjects, the optional LLM judge."""

from __future__ import annotations

import time

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import Field

from tracr_agent.agent.scoring.score import (
    SCORER_VERSION, JudgeScore, LabelScore, Score, judge_description, judge_prediction,
    parse_verdict, score_functional, score_label, score_prediction,
)
from tracr_agent.agent.scoring.judge import parse_verdicts
from tracr_agent.tools.subjects.zoo import ZOO, get_task


def zoo_task(task_id: str):
    return get_task(task_id)  # a missing task is a failure, not a skip


# -- labels ---------------------------------------------------------------------------------

@pytest.mark.parametrize("task_id", ["reverse", "sort", "length", "frac_prevs", "shift_by"])
def test_id_name_and_every_alias_match(task_id):
    task = zoo_task(task_id)
    for label in task.labels:
        for closed in (False, True):
            s = score_label(label, task, closed_set=closed)
            assert s.correct, (label, closed)
            assert s.matched in task.labels


def verdict(label, task_id, closed_set=False):
    s = score_label(label, zoo_task(task_id), closed_set=closed_set)
    return s.correct, s.matched, s.matched_by


@pytest.mark.parametrize("label", ["Sort", "SORT", "sort.", " sort ", "'sort'", "Sort!", "s-o-r-t"])
def test_case_punctuation_and_whitespace_variants(label):
    assert verdict(label, "sort") == (True, "sort", "exact")


def test_ids_with_separators():
    task = zoo_task("frac_prevs")
    for label in ("frac_prevs", "frac-prevs", "Frac Prevs", "FRAC_PREVS", "fracPrevs"):
        assert score_label(label, task).correct, label


def test_sorting_matches_sort_through_its_alias():
    task = get_task("sort")
    assert "sorting" in task.aliases
    assert verdict("Sorting", "sort") == (True, "sorting", "exact")


@pytest.mark.parametrize("label", ["the sort task", "Sort task", "sort model", "make_sort", "SortModel",
                                   "the sort", "sorting task", "sequence sort", "sort (the task)", "sorted"])
def test_noise_words_are_forgiven_in_open_set(label):
    assert score_label(label, get_task("sort")).correct, label


@pytest.mark.parametrize("label,task_id,matched_by", [
    ("Sorting (ascending order)", "sort", "concept:sort"), ("stable sort", "sort", "concept:sort"),
    ("histogram", "hist", "concept:histogram"), ("Reverse the input sequence", "reverse", "concept:reverse"),
    ("the model computes how many times each token appears", "hist", "concept:count+each_token"),
    ("sorted, largest first", "sort_descending", "concept:descending+sort"),
])
def test_labels_a_person_accepts_say_which_rule_accepted_them(label, task_id, matched_by):
    s = score_label(label, zoo_task(task_id))
    assert s.correct and s.matched_by == matched_by and s.matched == zoo_task(task_id).name, s
    assert s.reason.startswith("names ")


def test_noise_words_are_not_forgiven_in_closed_set():
    assert not score_label("the sort task", get_task("sort"), closed_set=True).correct
    assert not score_label("sort model", get_task("sort"), closed_set=True).correct


@pytest.mark.parametrize("label,task_id", [
    ("permutation", "sort"), ("sort_unique", "sort"), ("sort descending", "sort"), ("reverse", "sort"),
    ("so", "sort"), ("sor", "sort"), ("resort", "sort"), ("unsort", "sort"),
    ("sort_freq", "sort"), ("reverse sort", "sort"), ("length", "hist"), ("hist", "length"),
    ("rev", "reverse"), ("reversed order of sorting", "reverse"), ("maximum", "running_max"),
    ("shift", "shift_by"), ("fraction", "frac_prevs"), ("prevs", "frac_prevs"),
    ("reverse", "rotate_left"), ("count", "hist"), ("sort", "sort_freq"), ("sort, not ascending", "sort"),
    ("reverse except the first token", "reverse"), ("count of 'b'", "count"),
])
def test_wrong_labels_are_rejected(label, task_id):
    s = score_label(label, zoo_task(task_id))
    assert (s.correct, s.matched, s.matched_by) == (False, None, None)
    assert s.reason and s.reason.startswith(("contradicts", "does not name")), s.reason


def test_a_rejection_says_what_contradicts_the_task():
    s = score_label("sort descending", get_task("sort"))
    assert s.reason == "contradicts the task: descending ('descending')"
    s = score_label("count", get_task("hist"))
    assert s.reason.startswith("does not name the task: needs count + ") and "missing" in s.reason


def test_a_label_naming_another_task_is_wrong_even_with_noise():
    # "sort task" -> sort is right for sort, but "sort_unique task" must not become "sort"
    assert not score_label("sort unique task", get_task("sort")).correct
    assert score_label("sort unique task", get_task("sort_unique")).correct


@pytest.mark.parametrize("label", [None, "", "   ", "!!!", 42])
def test_empty_or_non_string_labels(label):
    assert verdict(label, "sort") == (False, None, None)


def test_closed_set_needs_an_exact_choice():
    sort = get_task("sort")
    assert score_label("sort", sort, closed_set=True).correct
    assert score_label("ascending sort", sort, closed_set=True).correct
    assert score_label("Ascending-Sort", sort, closed_set=True).correct  # case/punctuation aside
    assert not score_label("sort_descending", sort, closed_set=True).correct
    assert not score_label("sorting algorithm", sort, closed_set=True).correct
    # each zoo id picks exactly its own task
    ids = ZOO.ids()
    for tid in ids[:12]:
        hits = [other for other in ids if score_label(tid, get_task(other), closed_set=True).correct]
        assert hits == [tid]


def test_label_accepts_a_task_id_or_a_subject_truth(reverse_subject):
    assert score_label("sequence reversal", "reverse").correct
    assert score_label("sequence reversal", reverse_subject.truth).correct
    assert not score_label("sort", reverse_subject.truth).correct


# -- functional -----------------------------------------------------------------------------

def test_reverse_correct_implementation(reverse_subject):
    s = score_functional("def f(tokens):\n    return tokens[::-1]", reverse_subject)
    assert s.agreement == 1.0 and s.correct and s.error is None and s.first_mismatch is None
    assert s.n_inputs == len(reverse_subject.domain()) == 1364


def test_reverse_wrong_implementation_names_the_first_mismatch(reverse_subject):
    s = score_functional("def f(tokens):\n    return sorted(tokens)", reverse_subject)
    assert 0 < s.agreement < 1 and not s.correct
    assert s.first_mismatch.startswith("input ['a', 'b']: expected ['b', 'a'], got ['a', 'b']")


@pytest.mark.parametrize("task_id", ["reverse", "sort", "length", "hist", "frac_prevs", "shift_by"])
def test_reference_source_scores_100_percent(task_id, load):
    task = zoo_task(task_id)
    subject = load(task_id)
    s = score_functional(task.reference_source(), subject)
    assert s.correct and s.agreement == 1.0, s
    assert s.n_inputs == min(task.domain_size(), 2000 if task.domain_size() > 5000 else 5000)


def test_numerical_task_uses_the_tolerance(load):
    subject = load("frac_prevs")
    assert subject.output_kind == "numerical"
    close = """
def f(tokens):
    out, seen = [], 0
    for i, t in enumerate(tokens):
        seen += t == "x"
        out.append(round(seen / (i + 1), 5))
    return out
"""
    assert score_functional(close, subject).correct
    off = close.replace("round(seen / (i + 1), 5)", "seen / (i + 1) + 0.01")
    s = score_functional(off, subject)
    assert s.agreement == 0.0 and "expected" in s.first_mismatch


def test_none_positions_must_match(load):
    subject = load("shift_by")
    assert subject.run([["a", "b", "c"]]) == [[None, None, "a"]]
    s = score_functional("def f(t):\n    return [t[i - 2] if i >= 2 else 'a' for i in range(len(t))]", subject)
    assert not s.correct and s.agreement < 0.5


def test_bools_and_ints_are_not_confused(load):
    subject = load("shuffle_dyck2")
    ref = get_task("shuffle_dyck2").reference_source()
    inputs = subject.domain()[:300]
    assert score_functional(ref, subject, inputs).correct
    as_ints = ref + "\n_g = f\ndef f(tokens):\n    return [int(v) for v in _g(tokens)]\n"
    s = score_functional(as_ints, subject, inputs)
    assert not s.correct and s.agreement == 0.0


def test_implementation_that_raises(reverse_subject):
    s = score_functional("def f(tokens):\n    raise RuntimeError('not sure')", reverse_subject)
    assert not s.correct and s.agreement == 0.0
    assert s.error.startswith("f raised RuntimeError: not sure on input ['a']")
    assert s.first_mismatch == "input ['a']: expected ['a'], f failed"


def test_implementation_that_raises_on_some_inputs_gets_partial_credit(reverse_subject):
    s = score_functional("def f(tokens):\n    assert len(tokens) > 1\n    return tokens[::-1]", reverse_subject)
    assert not s.correct
    assert s.agreement == pytest.approx(1 - 4 / 1364)
    assert s.error.startswith("f raised AssertionError on input ['a']") and "failed on 4 of 1364" in s.error


def test_sandbox_failures_score_zero(reverse_subject):
    s = score_functional("import os\ndef f(t): return t[::-1]", reverse_subject)
    assert not s.correct and s.agreement == 0.0 and s.error.startswith("blocked import: os")
    s = score_functional("def g(t): return t", reverse_subject)
    assert s.error == "implementation does not define f"
    s = score_functional("def f(t):\n    while True: pass", reverse_subject, cpu_seconds=1, wall_seconds=10)
    assert s.error.startswith(("CPU time limit", "timeout"))
    assert score_functional("", reverse_subject).error == "no implementation"


def test_explicit_inputs(reverse_subject):
    s = score_functional("def f(t):\n    return t[::-1]", reverse_subject, inputs=[["a", "b"], ("c",)])
    assert s.correct and s.n_inputs == 2


# -- whole predictions ----------------------------------------------------------------------

def test_no_prediction(reverse_subject):
    s = score_prediction(None, reverse_subject)
    assert isinstance(s, Score) and s.scorer_version == SCORER_VERSION
    assert s.label == LabelScore(correct=False, reason="no prediction", family="permutation", family_correct=False)
    assert s.explained is False
    assert s.functional.correct is False and s.functional.agreement == 0.0
    assert s.functional.error == "no prediction"
    assert s.judge is None


def test_full_prediction(reverse_subject):
    pred = {"label": "Sequence reversal", "description": "reads the input back to front",
            "implementation": "def f(tokens):\n    return list(reversed(tokens))", "confidence": 0.9}
    s = score_prediction(pred, reverse_subject)
    assert (s.label.correct, s.label.matched, s.label.matched_by) == (True, "sequence reversal", "exact")
    assert (s.label.family, s.label.family_correct, s.label.family_by) == ("permutation", True, "label")
    assert s.functional.correct and s.functional.n_inputs == 1364
    assert s.judge is None
    assert s.explained is True and not s.explanation.tabulated
    assert s.explanation.size > 5 and s.explanation.reference_size > 5 and s.explanation.size_ratio > 0
    dumped = s.model_dump()
    assert set(dumped) == {"label", "functional", "judge", "explanation", "explained", "scorer_version"}
    assert Score.model_validate(dumped) == s


def test_prediction_with_wrong_label_but_right_function(reverse_subject):
    pred = {"label": "mirror", "implementation": "def f(t):\n    return t[::-1]"}
    s = score_prediction(pred, reverse_subject, task="reverse", closed_set=True)
    assert not s.label.correct and s.functional.correct


def test_prediction_without_implementation(reverse_subject):
    s = score_prediction({"label": "reverse"}, reverse_subject)
    assert s.label.correct and not s.functional.correct and s.functional.error == "no implementation"


# -- judge ----------------------------------------------------------------------------------

class RecordingFake(GenericFakeChatModel):
    """A scripted chat model that remembers what it was asked."""

    seen: list = Field(default_factory=list)
    model_name: str = "fake-judge-1"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def fake(*replies: str) -> RecordingFake:
    return RecordingFake(messages=iter([AIMessage(content=r) for r in replies]))


def test_judge_yes():
    llm = fake("Both describe reading the sequence backwards.\nVERDICT: yes")
    task = get_task("reverse")
    j = judge_description("outputs the tokens in reverse order", task, llm)
    assert j == JudgeScore(correct=True, model="fake-judge-1",
                           rationale="Both describe reading the sequence backwards.")
    prompt = "\n".join(m.content for m in llm.seen[0])
    assert task.description in prompt and "outputs the tokens in reverse order" in prompt
    assert "DESCRIPTION: yes" in prompt and "LABEL: yes" in prompt


def test_judge_no_and_unparseable():
    task = get_task("reverse")
    assert judge_description("sorts the tokens", task, fake("Different function.\nVERDICT: no")).correct is False
    j = judge_description("sorts the tokens", task, fake("I cannot decide."))
    assert j.correct is False and j.error == "the judge gave no DESCRIPTION line"
    j = judge_description("", task, fake("VERDICT: yes"))
    assert j.correct is False and j.rationale == "no description"


def test_judge_grades_label_and_description_in_one_call():
    llm = fake("The label names reversal; the description sorts instead.\n**LABEL:** yes\nDESCRIPTION: no")
    j = judge_prediction("tokens in opposite order", "sorts the tokens", get_task("reverse"), llm)
    assert (j.label_correct, j.correct, j.error) == (True, False, None)
    assert j.rationale == "The label names reversal; the description sorts instead."
    prompt = llm.seen[0][1].content
    assert "Candidate label: tokens in opposite order" in prompt and "known as: Reverse; sequence reversal" in prompt
    j = judge_prediction("tokens in opposite order", "reverses", get_task("reverse"), fake("Fine.\nDESCRIPTION: yes"))
    assert j.correct and j.label_correct is None and j.error == "the judge gave no LABEL line"


def test_judge_model_name_falls_back_to_the_llm_type():
    llm = GenericFakeChatModel(messages=iter([AIMessage(content="ok\nverdict: **Yes**")]))
    j = judge_description("reverse", get_task("reverse"), llm)
    assert j.correct and j.model == "generic-fake-chat-model"


def test_judge_call_failure_is_recorded():
    llm = GenericFakeChatModel(messages=iter([]))  # exhausted: raises on call
    j = judge_description("reverse", get_task("reverse"), llm)
    assert j.correct is False and j.error.startswith("judge call failed")


@pytest.mark.parametrize("text,verdict", [
    ("VERDICT: yes", True), ("reasoning\nVERDICT: no", False), ("VERDICT: no\n\n", False),
    ("verdict - maybe", None), ("VERDICT: yes\nactually VERDICT: no", False), ("**VERDICT:** yes", True),
    ("yes", None),
])
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) is verdict


@pytest.mark.parametrize("text,verdicts", [
    ("LABEL: yes\nDESCRIPTION: no", (True, False)), ("why\n- **Label**: No\n- **Description**: Yes", (False, True)),
    ("label: maybe\nDESCRIPTION: yes", (None, True)), ("Label: yes", (True, None)),
    ("The candidate description: no mention of order.\nLABEL: no\nDESCRIPTION: yes", (False, True)),
])
def test_parse_verdicts(text, verdicts):
    assert parse_verdicts(text) == verdicts


def test_score_prediction_with_a_judge(reverse_subject):
    llm = fake("Same function.\nLABEL: yes\nDESCRIPTION: yes")
    pred = {"label": "reverse", "description": "reverses the input",
            "implementation": "def f(t):\n    return t[::-1]", "confidence": 1.0}
    s = score_prediction(pred, reverse_subject, judge_llm=llm)
    assert s.judge.correct and s.judge.label_correct and s.judge.model == "fake-judge-1" and len(llm.seen) == 1
    assert s.label.matched_by == "exact"  # the rule accepted it first
    s = score_prediction(None, reverse_subject, judge_llm=fake())
    assert s.judge == JudgeScore(correct=False, model="fake-judge-1", rationale="no prediction")


def test_a_label_only_the_judge_accepts_says_so(reverse_subject):
    pred = {"label": "tokens in opposite order", "description": "reverses the input",
            "implementation": "def f(t):\n    return t[::-1]"}
    assert not score_prediction(pred, reverse_subject).label.correct
    s = score_prediction(pred, reverse_subject, judge_llm=fake("Opposite order is reversal.\nLABEL: yes\nDESCRIPTION: yes"))
    assert s.label.correct and s.label.matched_by == "judge:fake-judge-1" and s.label.family_correct
    assert s.label.reason.startswith("the judge accepted it (Opposite order is reversal.)")
    # closed-set runs need an exact choice: the judge cannot widen it
    s = score_prediction(pred, reverse_subject, closed_set=True,
                         judge_llm=fake("Opposite order is reversal.\nLABEL: yes\nDESCRIPTION: yes"))
    assert not s.label.correct and s.judge.label_correct
    # a judge that says no never overrules the rules
    s = score_prediction({**pred, "label": "Reverse the input sequence"}, reverse_subject,
                         judge_llm=fake("Hmm.\nLABEL: no\nDESCRIPTION: yes"))
    assert s.label.correct and s.label.matched_by == "concept:reverse" and s.judge.label_correct is False


# -- timing ---------------------------------------------------------------------------------

def test_functional_scoring_timing_on_4000_inputs(load, capsys):
    """Not a benchmark: records how long 4000 inputs take (subject forward + sandbox)."""
    subject = load("shuffle_dyck2")
    inputs = subject.domain(limit=0, samples=4000)
    subject.run(inputs[:10])  # build the bridge outside the timing
    t0 = time.monotonic()
    s = score_functional(get_task("shuffle_dyck2").reference_source(), subject, inputs)
    elapsed = time.monotonic() - t0
    assert s.correct and s.n_inputs == 4000
    with capsys.disabled():
        print(f"\n[timing] functional scoring of 4000 inputs: {elapsed:.2f} s")
    assert elapsed < 120
