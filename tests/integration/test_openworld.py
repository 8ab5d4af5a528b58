"""The open-world baseline (`--llm baseline`): it never touches the zoo, and it explains models by
composing building blocks — correct and not tabulated — on zoo tasks and generated ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tracr_agent.agent.investigators.registry import make_backend
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.investigators.openworld.fit import fit
from tracr_agent.tools.subjects.generate.ids import ids_for

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("tracr_agent.tools.subjects.zoo", "tracr_agent.tools.subjects.generate",
             "tracr_agent.agent.investigators.zoo_lookup", "tracr_agent.agent.investigators.baseline",
             "tracr_agent.agent.investigators.whitebox_reader")


def test_the_open_world_baseline_does_not_even_name_the_zoo():
    """Its imports are a contract (pyproject.toml: the open-world baseline and the readers it shares
    import no zoo, generator or closed-world module); no text names them either, so no import by name
    dodges it. The next test checks what a whole episode loads."""
    investigators = REPO / "agent" / "investigators"
    paths = [*(investigators / "openworld").glob("*.py"), *(investigators / "decompiler").glob("*.py"),
             investigators / "rule_based.py", investigators / "hypotheses.py"]
    assert len(paths) > 15
    for path in paths:
        text = path.read_text()
        assert not any(name in text for name in (*FORBIDDEN, "subjects.zoo", "zoo_lookup")), path


def test_an_episode_on_a_model_dir_imports_no_zoo(tmp_path, reverse_subject):
    """In a fresh process: the backend `baseline`, a model directory (no zoo), unscored episodes in
    blackbox (labelled residual) and whitebox (raw residual: decompiler/rounds.py and output.py, the decompiler's analysis) —
    sys.modules holds no zoo module afterwards, and each prediction reproduces the model."""
    from tracr_agent.tools.subjects.modeldir import write_model_dir

    model_dir = tmp_path / "model"
    write_model_dir(model_dir, reverse_subject.card, reverse_subject.weights)
    script = f"""
import sys
from pathlib import Path
from tracr_agent.agent.investigators.registry import make_backend
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.tools.subjects.load import load_model_dir
subject = load_model_dir({str(model_dir)!r})
xs = subject.domain()
for condition, residual in (("blackbox", "labelled"), ("whitebox", "raw")):
    res = run_episode(subject, make_backend("baseline"), condition=condition, residual=residual,
                      transcript_path=Path({str(tmp_path)!r}) / (condition + ".jsonl"), score=False)
    scope = {{}}
    exec(res.prediction["implementation"], scope)
    assert [scope["f"](list(x)) for x in xs] == subject.run(xs), condition
    print("ok", condition, res.prediction["label"])
leaked = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))
assert not leaked, leaked
"""
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert [line.split()[:2] for line in p.stdout.splitlines()] == [["ok", "blackbox"], ["ok", "whitebox"]]


def observations(fn, vocab, n, count=80, seed=0):
    import random

    rng = random.Random(seed)
    xs = {tuple(rng.choice(vocab) for _ in range(rng.randint(1, n))) for _ in range(count)}
    return {x: fn(list(x)) for x in xs}


@pytest.mark.parametrize("name,fn,vocab,n", [
    pytest.param("prefix count of b", lambda t: [t[:i + 1].count("b") for i in range(len(t))], ("a", "b", "c"), 6,
                 marks=pytest.mark.slow),  # ~20 s of search: full suite only
    ("token times two", lambda t: [2 * x for x in t], (0, 1, 2, 3), 5),
    ("previous token", lambda t: [t[i - 1] if i else None for i in range(len(t))], ("x", "y", "z"), 5),
    ("global minimum", lambda t: [min(t)] * len(t), (1, 2, 3, 5), 5),
    ("sorted descending", lambda t: sorted(t, reverse=True), (1, 2, 3, 4), 5),
    # tokens holding braces end up quoted in the description (a Dyck vocabulary)
    ("closing braces", lambda t: [t.count("}")] * len(t), ("(", ")", "{", "}"), 4),
])
def test_synthesis_finds_mechanisms_for_functions_it_was_never_told_about(name, fn, vocab, n):
    from tracr_agent.agent.scoring.explanation import explain

    obs = observations(fn, vocab, n)
    best = fit(obs, {"vocab": list(vocab), "max_seq_len": n, "numerical": False}).best
    assert best is not None, name
    scope: dict = {}
    exec(best.source, scope)
    import itertools

    domain = [list(x) for k in range(1, n + 1) for x in itertools.product(vocab, repeat=k)]
    assert all(scope["f"](x) == fn(x) for x in domain), (name, best.source)
    assert not explain(best.source, vocab, n).tabulated
    assert best.label.split(":")[0] in ("permutation", "aggregation", "counting", "elementwise map", "pattern")
    assert best.description.startswith(f"What it computes: {best.label} — at each position i, ")
    assert "How: " in best.description and "RASP-style step" in best.description


MUST_EXPLAIN_ZOO = ["reverse", "sort", "hist", "shift_by", "max_broadcast", "mean_tokens"]


def run_open_world(subject, condition, tmp_path, name, residual="labelled"):
    return run_episode(subject, make_backend("baseline"), condition=condition,
                       transcript_path=tmp_path / f"{name}-{condition}-{residual}.jsonl", residual=residual)


def test_open_world_full_explains_a_zoo_task(load, tmp_path):
    task_id = "reverse"
    res = run_open_world(load(task_id), "full", tmp_path, task_id)
    s = res.score
    assert s.functional.correct and not s.explanation.tabulated and s.explained, res.prediction
    assert s.label.family_correct


@pytest.mark.slow  # several episodes of synthesis: full suite only
def test_open_world_on_zoo_and_generated_tasks(load, tmp_path, capsys):
    """`full` on zoo tasks it must explain, and on generated difficulty-1 tasks: functionally correct
    and not tabulated on each of the must-get ones; the rate over all of them is printed."""
    from tracr_agent.tools.subjects.tasks import load_task

    gen = [str(g) for g in ids_for(1, [1], 6)]  # picked through the generator's ids
    results = {}
    for task_id in MUST_EXPLAIN_ZOO[1:] + gen:
        subject = load(task_id) if not task_id.startswith("gen-") else load_task(task_id)
        res = run_open_world(subject, "full", tmp_path, task_id)
        results[task_id] = bool(res.score and res.score.explained)
    with capsys.disabled():
        print(f"\n[open-world full] explained {sum(results.values())}/{len(results)}: {results}")
    assert all(results[t] for t in MUST_EXPLAIN_ZOO[1:]), results
    assert sum(results[t] for t in gen) >= 4, results


# -- whitebox: no decoded outputs, the output read off the residual stream ---------------------------

def assert_explained_in_whitebox(subject, tmp_path, residual):
    """One whitebox episode: functionally correct and not tabulated, every call a whitebox tool the
    suite ran (none refused, within the default limits), and run_model never called."""
    from tracr_agent.agent.records import transcript as tr
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.tools.suite.base import tool_names

    task_id = subject.truth.task_id
    res = run_open_world(subject, "whitebox", tmp_path, task_id, residual)
    assert res.status == "prediction", res.error
    s = res.score
    assert s.functional.correct, (task_id, residual, s.functional, res.prediction)
    assert not s.explanation.tabulated and s.explained, (task_id, residual, s.explanation)
    events, problem = tr.read_transcript(tmp_path / f"{task_id}-whitebox-{residual}.jsonl")
    assert problem is None
    called = [e.name for e in events if isinstance(e, tr.ToolCallEvent)]
    assert "run_model" not in called and set(called) <= set(tool_names("whitebox")), called
    assert "get_activations" in called
    results = [e for e in events if isinstance(e, tr.ToolResultEvent)]
    assert all(tr.result_origin(e) == "tool" and not e.is_error for e in results), \
        [(e.name, e.text[:80]) for e in results if e.is_error or tr.result_origin(e) != "tool"]
    assert res.tool_calls <= Limits().max_tool_calls
    # it says where the outputs came from
    assert "without decoded outputs" in res.prediction["description"]
    return res


@pytest.mark.parametrize("task_id,residual", [("hist", "labelled"), ("frac_prevs", "raw")])
def test_open_world_whitebox_reads_outputs_off_the_residual_fast(load, tmp_path, task_id, residual):
    """The fast representatives: labelled residual, and label-free dims d0…dN (the issue's 0/15 case:
    the variables are found as what each component writes, the output is the variable no step reads)."""
    res = assert_explained_in_whitebox(load(task_id), tmp_path, residual)
    if residual == "raw":
        assert "found as what each component writes" in res.prediction["description"]


WHITEBOX_ZOO = ["reverse", "sort", "max_broadcast", "count", "shift_by", "nary_sequencemap"]
WHITEBOX_GEN = [str(g) for g in ids_for(1, [1], 3)]
"""The first three generated programs of seed 1 at difficulty 1 (explained in `full` too). Of the first three at
difficulties 2 and 3, none is explained in whitebox yet (generator version 3: no step that does nothing)."""


@pytest.mark.slow  # a dozen whitebox episodes with synthesis: full suite only
@pytest.mark.parametrize("residual", ["labelled", "raw"])
@pytest.mark.parametrize("task_id", WHITEBOX_ZOO + WHITEBOX_GEN)
def test_open_world_whitebox_on_zoo_and_generated_tasks(load, tmp_path, task_id, residual):
    assert_explained_in_whitebox(load(task_id), tmp_path, residual)


def test_open_world_whitebox_stopped_by_a_limit_still_submits(load, tmp_path):
    """Stopped after two reads (the forced last turn), it submits what it can and says why."""
    from tracr_agent.agent.records.limits import Limits

    res = run_episode(load("hist"), make_backend("baseline"), condition="whitebox", residual="raw",
                      transcript_path=tmp_path / "t.jsonl", limits=Limits(max_tool_calls=2))
    assert res.status == "prediction"
    assert res.prediction["confidence"] <= 0.1
    assert "def f(tokens)" in res.prediction["implementation"]


def test_refit_keeps_a_program_the_fresh_inputs_confirm_and_searches_again_when_they_refute_it():
    """After a test on fresh inputs: a confirmed program is kept as is (no second search over more
    observations, whose time can run out on a loaded machine); a refuted one is replaced by a
    program that reproduces everything."""
    from tracr_agent.agent.investigators.openworld.fit import refit

    info = {"vocab": [0, 1, 2, 3], "max_seq_len": 4, "numerical": False}
    double = lambda t: [2 * x for x in t]  # noqa: E731
    earlier = observations(double, (0, 1, 2, 3), 4, count=30, seed=1)
    everything = {**earlier, **observations(double, (0, 1, 2, 3), 4, count=30, seed=2)}
    assert len(everything) > len(earlier)
    assert refit(earlier, everything, info).best is fit(earlier, info).best

    odd = lambda t: [x + 1 if x == 3 else x for x in t]  # noqa: E731 - identity on the earlier inputs
    earlier = {x: odd(list(x)) for x in observations(odd, (0, 1, 2), 4, count=30, seed=3)}
    everything = {**earlier, **observations(odd, (0, 1, 2, 3), 4, count=40, seed=4)}
    first = fit(earlier, info).best
    again = refit(earlier, everything, info).best
    assert again is not None and again is not first
    scope: dict = {}
    exec(again.source, scope)
    assert all(scope["f"](list(x)) == y for x, y in everything.items())


def test_open_world_whitebox_on_rotated_subjects_says_what_it_could_not_read(load, tmp_path):
    """No privileged basis (a random rotation): counts are read and explained (hist); a map's output
    points keep no name, so the answer read off them is a guess and is stated as one."""
    from tracr_agent.tools.subjects.transforms import apply_transform

    hist = run_open_world(apply_transform(load("hist"), "rotated:0"), "whitebox", tmp_path, "hist", "raw")
    assert hist.score.functional.correct and hist.score.explained, hist.prediction
    mapped = run_open_world(apply_transform(load("identity_map"), "rotated:0"), "whitebox", tmp_path, "map", "raw")
    assert mapped.status == "prediction", mapped.error
    assert mapped.prediction["confidence"] <= 0.4 and "Unsure" in mapped.prediction["description"]


def test_open_world_whitebox_is_not_sure_of_a_fit_to_the_inputs_its_reading_could_place(load, tmp_path):
    """last_token rotated: the write subspaces read place only inputs of the scanned length (a shorter
    one holds a length never seen), so every input fitted has five tokens, and "the token at index 4"
    fits them all. The answer is wrong on shorter inputs; it says the sample was not fair, below 0.9."""
    from tracr_agent.tools.subjects.transforms import apply_transform

    res = run_open_world(apply_transform(load("last_token"), "rotated:0"), "whitebox", tmp_path, "last", "raw")
    assert res.status == "prediction", res.error
    assert not res.score.functional.correct  # the premise: a fit to a biased sample
    assert res.prediction["confidence"] < 0.9 and "not a fair sample" in res.prediction["description"]


def test_open_world_whitebox_is_not_sure_of_a_program_tested_on_few_fresh_inputs(load, tmp_path):
    """hist rotated on a 20-call budget: dense reads leave room to test the program on three fresh inputs,
    which would pass one wrong on a tenth of the domain three times in four. Right, but not sure."""
    from tracr_agent.agent.records.limits import Limits
    from tracr_agent.tools.subjects.transforms import apply_transform

    res = run_episode(apply_transform(load("hist"), "rotated:0"), make_backend("baseline"), condition="whitebox",
                      transcript_path=tmp_path / "hist.jsonl", residual="raw", limits=Limits(max_tool_calls=20))
    assert res.score.functional.correct, res.prediction
    assert res.prediction["confidence"] < 0.9 and "fresh input" in res.prediction["description"]
