"""The `decompiler` investigator: real tracr subjects, real TransformerLens forward passes, real
episodes through the graph, scored by the real scorer (sandboxed, whole input domain).

Per task: the submitted program is functionally correct and not tabulated (the scorer's
`tabulated` flag), within the default tool-call limit. Plus: get_activations' json form, the
decompiler's partial answer when a limit stops it, and its reads planned within the episode's
tool-call limit. (What it may import is a contract in pyproject.toml, tests/unit/test_architecture.py.)
"""

from __future__ import annotations

import json

import pytest

from tracr_agent.agent.investigators.registry import make_backend
from tracr_agent.agent.episode.drive import run_episode
from tracr_agent.agent.records import transcript as tr
from tracr_agent.agent.records.limits import Limits
from tracr_agent.agent.scoring.labels import match_label
from tracr_agent.tools.protocol.activations import entries
from tracr_agent.tools.suite.base import ToolContext, call_tool

# Ten zoo tasks covering every kind of step: categorical and numerical aggregates, selector width,
# one- and two-input MLPs, numerical MLPs, several heads per layer, five or more layers.
ZOO_TEN = ["sort", "reverse", "length", "frac_prevs", "pair_balance", "shuffle_dyck", "sort_freq",
           "nary_sequencemap", "count_less_freq", "running_mean"]
# Generated programs, picked through the generator's API (the first five of seed 1 at each difficulty),
# and how many of the five (in each residual mode) the decompiler explains at least: its measured share
# with generator version 3 is labelled 5/4/5/5, raw 5/4/5/4 (the floor takes the lower). The miss at
# difficulty 4 raw: the output's values aligned with its dimensions in one of several ways (confidence 0.4).
GEN_FIRST = 5
GEN_EXPLAINED = {1: 5, 2: 4, 3: 5, 4: 4}


def decompile_episode(subject, tmp_path, condition="whitebox", limits=None, residual="labelled"):
    path = tmp_path / f"{subject.truth.task_id}-{condition}-{residual}.jsonl"
    return run_episode(subject, make_backend("decompiler"), condition=condition, transcript_path=path,
                       limits=limits or Limits(), residual=residual)


def assert_explained(result, subject):
    assert result.status == "prediction", result.error
    score = result.score
    assert score.functional.correct, (subject.truth.task_id, score.functional, result.prediction["implementation"])
    assert score.explanation.tabulated is False, score.explanation
    assert score.explained is True
    assert result.tool_calls <= Limits().max_tool_calls


def test_decompiles_a_counting_model_fast(load, tmp_path):
    """The fast representative: hist (selector width + a numerical-to-categorical MLP), whitebox."""
    subject = load("hist")
    result = decompile_episode(subject, tmp_path)
    assert_explained(result, subject)
    pred = result.prediction
    # what it computes, then how: the conventional name, read off the composition, then each step
    # with the model components it stands for; the code is the RASP a person would write
    assert pred["label"] == "histogram" and match_label(pred["label"], "hist").correct
    assert pred["description"].startswith("What it computes: histogram")
    assert "layer 0 head 0.0" in pred["description"] and "layer 0 MLP" in pred["description"]
    assert "SelectorWidth(Select(tokens, tokens, lambda k, q: k == q))" in pred["implementation"]
    assert "{" not in pred["implementation"].split("def f(")[1]  # no table left in the steps


@pytest.mark.slow
@pytest.mark.parametrize("task", ZOO_TEN)
def test_decompiles_zoo_task_in_whitebox(load, tmp_path, task):
    subject = load(task)
    assert_explained(decompile_episode(subject, tmp_path), subject)


# The primitive each task's explanation must name, as it appears in the submitted code.
EXPECTED_PRIMITIVES = {
    "reverse": ("length = SelectorWidth(Select(indices, indices, lambda k, q: True))", "mirror_index"),
    "sort": ("rank = SelectorWidth(Select(", "Aggregate(Select(rank, indices, lambda k, q: k == q), tokens)"),
    "prev_token": ("Aggregate(Select(indices, indices, lambda k, q: k == q - 1), tokens)",),
    "count": ("SelectorWidth(Select(tokens, indices, lambda k, q: k == 'a'))",),
    "running_mean": ("Mean(Select(indices, indices, lambda k, q: k <= q)",),
}


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(EXPECTED_PRIMITIVES))
def test_the_explanation_names_primitives_and_the_task(load, tmp_path, task):
    """What the decompiler submits for a zoo model: functionally correct, every step a named primitive
    (no table), the primitives the task is made of, a label the matcher accepts, what before how."""
    subject = load(task)
    result = decompile_episode(subject, tmp_path)
    assert_explained(result, subject)
    pred, ex = result.prediction, result.score.explanation
    for primitive in EXPECTED_PRIMITIVES[task]:
        assert primitive in pred["implementation"], (primitive, pred["implementation"])
    assert ex.steps and ex.table_steps == 0, pred["implementation"]
    assert match_label(pred["label"], task).correct, pred["label"]
    assert pred["description"].startswith(f"What it computes: {pred['label']} — at each position i")


def test_decompiles_a_label_free_model_fast(load, tmp_path):
    """Raw residual (d0…dN only): it finds the variables itself; frac_prevs has a numerical 0/1 flag,
    a numerical mean over a prefix, and the input variables to recognise."""
    subject = load("frac_prevs")
    result = decompile_episode(subject, tmp_path, residual="raw")
    assert_explained(result, subject)
    assert "Mean(Select(indices, indices, lambda k, q: k <= q)" in result.prediction["implementation"]
    assert match_label(result.prediction["label"], "frac_prevs").correct
    assert not any(name in result.prediction["implementation"] for name in ("v1", "v2"))  # no label reached it


# Without labels a variable is what one component writes; shuffle_dyck's layer-1 MLP is several of
# tracr's MLPs combined (six numerical variables in one write subspace), read as one variable: its
# program is not recovered in raw mode (answered at confidence 0.2). Strict: a fix makes it pass.
@pytest.mark.slow
@pytest.mark.parametrize("task", ZOO_TEN)
def test_decompiles_zoo_task_in_whitebox_raw(load, tmp_path, task):
    subject = load(task)
    assert_explained(decompile_episode(subject, tmp_path, residual="raw"), subject)


@pytest.mark.slow
@pytest.mark.parametrize("difficulty", sorted(GEN_EXPLAINED))
def test_decompiles_generated_programs_in_whitebox(load, tmp_path, capsys, difficulty):
    """The first GEN_FIRST generated programs of seed 1 at `difficulty`, labelled and raw: the share explained
    (functionally correct and not tabulated, within the tool-call limit) is printed and at least the floor."""
    from tracr_agent.tools.subjects.generate.ids import ids_for

    explained = {}
    for gid in ids_for(1, [difficulty], GEN_FIRST):
        subject = load(str(gid))
        for residual in ("labelled", "raw"):
            result = decompile_episode(subject, tmp_path, residual=residual)
            score = result.score
            explained[(str(gid), residual)] = bool(result.status == "prediction" and score and score.explained
                                                   and result.tool_calls <= Limits().max_tool_calls)
    with capsys.disabled():
        for residual in ("labelled", "raw"):
            hits = [t for (t, r), ok in explained.items() if r == residual and ok]
            print(f"\n[decompiler, whitebox {residual}] difficulty {difficulty}: explained {len(hits)}/{GEN_FIRST}")
    for residual in ("labelled", "raw"):
        hits = sum(ok for (_, r), ok in explained.items() if r == residual)
        assert hits >= GEN_EXPLAINED[difficulty], (residual, explained)


def test_limit_reached_submits_partial_program(load, tmp_path):
    """Stopped after its first reads, it still submits: the program so far, and what it could not do."""
    subject = load("frac_prevs")
    result = decompile_episode(subject, tmp_path, limits=Limits(max_tool_calls=2))
    assert result.status == "prediction"
    pred = result.prediction
    assert "def f(tokens)" in pred["implementation"]
    assert pred["confidence"] <= 0.3
    assert "Not decompiled" in pred["description"]


def test_without_internal_tools_it_says_why(load, tmp_path):
    """In blackbox there is nothing to decompile from: one clear reason, no crash."""
    subject = load("hist")
    result = decompile_episode(subject, tmp_path, condition="blackbox")
    assert result.status == "prediction"
    assert result.prediction["label"] == "unknown"
    assert "Not decompiled" in result.prediction["description"] and "not available" in result.prediction["description"]


# -- get_activations format json ------------------------------------------------------------------

def test_get_activations_json_batches_inputs_and_hooks(load):
    subject = load("hist")
    ctx = ToolContext(condition="whitebox")
    res = call_tool(subject, "get_activations", {"hook": "blocks.0.hook_resid_pre,blocks.0.attn.hook_pattern",
                                                 "input": [["a", "b"], ["c"]], "format": "json"}, ctx)
    assert not res.is_error, res.text
    data = json.loads(res.text)
    assert data["hooks"] == ["blocks.0.hook_resid_pre", "blocks.0.attn.hook_pattern"]
    assert [e["input"] for e in data["inputs"]] == [["a", "b"], ["c"]]
    assert data["residual_labels"] == subject.residual_labels
    acts = subject.activations(["a", "b"])
    resid = data["inputs"][0]["acts"]["blocks.0.hook_resid_pre"]
    for p, row in enumerate(resid):  # sparse [index, value] pairs reproduce the dense activation
        dense = [0.0] * subject.d_model
        for j, v in entries(row):
            dense[j] = v
        assert dense == pytest.approx(acts["blocks.0.hook_resid_pre"][p].tolist(), abs=1e-4)
    pattern = data["inputs"][1]["acts"]["blocks.0.attn.hook_pattern"]
    assert len(pattern) == subject.n_heads and len(pattern[0]) == 2  # [heads][queries] for an input of 1 token


def test_get_activations_json_reads_the_positions_asked_for_each_input(load):
    """positions in json form: `positions` for every input, or `positions_per_input`, one list each; the
    rows read are the full read's rows at those positions (an attention table's queries), and the reply
    says which they are."""
    from tracr_agent.tools.protocol.activations import dense, dense_at

    subject = load("hist")
    ctx = ToolContext(condition="whitebox")
    hooks = "blocks.0.hook_resid_post,blocks.0.attn.hook_pattern,blocks.0.attn.hook_z"
    xs = [["a", "b", "c"], ["c"]]
    whole = json.loads(call_tool(subject, "get_activations", {"hook": hooks, "input": xs, "format": "json"}, ctx).text)
    for asked, rows_of in (({"positions_per_input": [[0, 2], [1]]}, [[0, 2], [1]]), ({"positions": [1]}, [[1], [1]])):
        res = call_tool(subject, "get_activations", {"hook": hooks, "input": xs, **asked, "format": "json"}, ctx)
        assert not res.is_error, res.text
        data = json.loads(res.text)
        for part, full, x, rows in zip(data["inputs"], whole["inputs"], xs, rows_of):
            assert part["positions"] == rows and "positions" not in full
            n_pos = len(x) + 1
            for hook in hooks.split(","):
                got = dense_at(part["acts"][hook], hook, rows, n_pos, subject.d_model, subject.d_head)
                want = dense(full["acts"][hook], hook, n_pos, subject.d_model, subject.d_head)
                if hook.endswith("hook_pattern"):
                    got, want = got[:, rows], want[:, rows]
                else:
                    got, want = got[rows], want[rows]
                assert got.tolist() == want.tolist()
    for asked, message in (({"positions_per_input": [[0], [0], [0]]}, "positions_per_input has 3 lists for 2 inputs"),
                           ({"positions_per_input": [[0], [2]]}, "input ['c']: position 2 is out of range"),
                           ({"positions_per_input": [[0], [1]], "positions": [0]}, "not both")):
        res = call_tool(subject, "get_activations", {"hook": hooks, "input": xs, **asked, "format": "json"}, ctx)
        assert res.is_error and message in res.text and "\n" not in res.text.strip(), res.text
    res = call_tool(subject, "get_activations", {"hook": "hook_embed", "input": ["a"], "positions_per_input": [[0]]},
                    ctx)
    assert res.is_error and "for format 'json'" in res.text


def test_get_activations_json_is_refused_not_cut_when_over_the_cap(load):
    subject = load("hist")
    ctx = ToolContext(condition="whitebox", cap_tokens=200)
    res = call_tool(subject, "get_activations", {"hook": "blocks.0.hook_resid_post",
                                                 "input": [["a", "b", "c", "a", "b", "c"]] * 8, "format": "json"}, ctx)
    assert res.is_error and "over the output cap" in res.text and "fewer inputs" in res.text


def test_get_activations_text_is_unchanged_by_default(load):
    subject = load("hist")
    ctx = ToolContext(condition="whitebox")
    args = {"hook": "blocks.0.hook_resid_post", "input": ["a", "b"]}
    assert call_tool(subject, "get_activations", args, ctx).text == \
        call_tool(subject, "get_activations", {**args, "format": "text"}, ctx).text
    assert not call_tool(subject, "get_activations", args, ctx).text.startswith("{")


@pytest.mark.parametrize("llm", ["decompiler", "baseline"])
def test_reads_are_planned_within_the_episodes_tool_call_limit(load, tmp_path, llm):
    """--max-tool-calls reaches the investigators: with a limit of 12 they plan their reads to leave the
    last call for the submission, so the limit never has to stop them (no limit event, no forced turn)."""
    path = tmp_path / f"{llm}.jsonl"
    result = run_episode(load("hist"), make_backend(llm), condition="whitebox", transcript_path=path,
                         limits=Limits(max_tool_calls=5), score=False)
    events, _ = tr.read_transcript(path)
    assert result.status == "prediction" and result.tool_calls <= 5
    assert not [e for e in events if isinstance(e, tr.LimitEvent)]
    assert not [e for e in events if isinstance(e, tr.PredictionEvent) and e.forced]



# Deep generated programs without labels whose branches only probes chosen for them reach:
# gen-11-4-7: an MLP (x == y over two earlier variables) that another input set explains as well on
# the first probes (answered wrong at confidence 0.9 until inputs telling the two apart were read);
# gen-5-4-7: an aggregate whose rarest value is never moved on the first probes (its output column
# unknown: the output was None there). Its output's values are placed by tracr's sorted dims while the
# widths the program computes (a +2 map folded away) would name them otherwise: only decoded outputs
# could tell which, so it is answered at 0.8, not 0.9.
DEEP_RAW = {"gen-11-4-7": 0.9, "gen-5-4-7": 0.8}


@pytest.mark.parametrize("task", sorted(DEEP_RAW))
def test_decompiles_deep_generated_programs_without_labels(load, tmp_path, task):
    subject = load(task)
    result = decompile_episode(subject, tmp_path, residual="raw")
    assert_explained(result, subject)
    assert result.prediction["confidence"] >= DEEP_RAW[task]
