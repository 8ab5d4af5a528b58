"""The benchmark as an Inspect AI task, run by real Inspect with its `mockllm/model` scripted to call
our tools and submit: the log holds the tool calls with the text our own agent reads, the score our
scorer gives, and tracr-agent reads the log back (replay, rerun, rescore, view)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model

from terminal import cli
from tracr_agent.agent.scoring.score import score_prediction
from tracr_agent.tools.suite.base import ToolContext, call_tool, tool_names

pytestmark = pytest.mark.xdist_group("inspect_task")

REVERSE = "def f(tokens):\n    return list(reversed(tokens))\n"
PREDICTION = {"label": "reverse", "description": "Reverses the input.", "implementation": REVERSE,
              "confidence": 0.9}


def call(name, args, content=None):
    out = ModelOutput.for_tool_call("mockllm/model", name, args, content=content)
    out.usage = ModelUsage(input_tokens=100, output_tokens=20, total_tokens=120)  # else mockllm fetches tiktoken data
    return out


def text(content):
    out = ModelOutput.from_content("mockllm/model", content)
    out.usage = ModelUsage(input_tokens=100, output_tokens=20, total_tokens=120)
    return out


def run(tmp_path, outputs, task="tracr_agent/interp", **task_args):
    """One Inspect eval of the task (by its registered name: the entry point finds it) on the script."""
    logs = inspect_eval(task, task_args=task_args, model=get_model("mockllm/model", custom_outputs=outputs),
                        log_dir=str(tmp_path / "logs"), display="none", log_format="eval")
    assert logs[0].status == "success", logs[0].error
    return logs[0]


def scored(sample) -> dict:
    return sample.scores["tracr_scorer"]


def without_timing(score: dict) -> dict:
    score = json.loads(json.dumps(score))
    score["functional"].pop("seconds")
    return score


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspect_full")
    script = [call("model_info", {}),
              call("run_model", {"inputs": [["a", "b", "c"], ["d", "a"]]}),
              call("attention_pattern", {"layer": 99, "head": 0, "input": ["a"]}),  # our error text
              call("run_model", {"inputs": "not a list"}),  # refused by Inspect's schema check
              call("submit_prediction", PREDICTION)]
    return run(tmp, script, tasks="reverse", condition="full")


def test_tool_calls_read_the_same_text_as_our_agent(full_run, load):
    sample = full_run.samples[0]
    calls = [c for m in sample.messages if m.role == "assistant" for c in m.tool_calls or []]
    assert [c.function for c in calls] == ["model_info", "run_model", "attention_pattern", "run_model",
                                           "submit_prediction"]
    results = [m for m in sample.messages if m.role == "tool"]
    ctx = ToolContext(condition="full")
    subject = load("reverse")
    for c, r in zip(calls[:3], results[:3]):
        assert r.error is None and r.text == call_tool(subject, c.function, c.arguments, ctx).text
    assert results[2].text.startswith("error:")  # an out-of-range layer: our tool's own error text
    assert results[3].error is not None  # a schema violation: Inspect's refusal, the episode goes on
    assert results[4].text == "prediction recorded: reverse (confidence 0.9)"
    # the model was offered the condition's tools, described as our agent sees them
    first = next(e for e in sample.events if e.event == "model")
    assert [t.name for t in first.tools] == tool_names("full")
    system = sample.messages[0]
    assert system.role == "system" and "\n- run_model: Run the model" in system.text
    assert "reverse" not in system.text and "reverse" not in sample.messages[1].text


def test_the_score_is_ours(full_run, load):
    score = scored(full_run.samples[0])
    ours = score_prediction(PREDICTION, load("reverse"), task="reverse").model_dump(mode="json")
    assert without_timing(score.metadata["score"]) == without_timing(ours)
    assert score.metadata["prediction"] == PREDICTION
    assert score.value == {"functional": 1.0, "explained": 1.0, "agreement": 1.0}
    assert score.answer == "reverse"
    metrics = {m.name: m.value for s in full_run.results.scores for m in s.metrics.values()}
    assert metrics["accuracy"] == 1.0


def test_a_wrong_prediction_scores_as_ours_does(tmp_path, load):
    wrong = {**PREDICTION, "label": "sort", "implementation": "def f(tokens):\n    return sorted(tokens)\n"}
    log = run(tmp_path, [call("submit_prediction", wrong)], tasks="reverse", condition="blackbox")
    score = scored(log.samples[0])
    ours = score_prediction(wrong, load("reverse"), task="reverse").model_dump(mode="json")
    assert without_timing(score.metadata["score"]) == without_timing(ours)
    assert score.value["functional"] == 0.0 and 0 < score.value["agreement"] < 1
    assert score.metadata["score"]["label"]["correct"] is False


def test_a_gen_suite_is_one_sample_per_generated_task_scored_as_ours(tmp_path, load):
    guess = {**PREDICTION, "label": "identity", "implementation": "def f(tokens):\n    return [None] * len(tokens)\n"}
    log = run(tmp_path, [call("run_model", {"inputs": [[1, 2]]}), call("submit_prediction", guess)],
              tasks="gen:1:1:1", condition="full")
    sample, = log.samples
    assert sample.id == "gen-1-1-0"
    score = scored(sample)
    ours = score_prediction(guess, load("gen-1-1-0"), task="gen-1-1-0").model_dump(mode="json")
    assert without_timing(score.metadata["score"]) == without_timing(ours)
    assert score.metadata["score"]["label"]["correct"] is None  # a generated program has no conventional name
    assert all("gen-1-1-0" not in m.text for m in sample.messages if m.role != "assistant")  # nothing names it


def test_whitebox_raw_offers_its_tools_and_shows_raw_dimensions(tmp_path, load):
    script = [call("run_model", {"inputs": [["a"]]}),  # not offered in whitebox
              call("decode_residual", {"input": ["a", "b"], "layer": 0}),
              call("submit_prediction", PREDICTION)]
    log = run(tmp_path, script, tasks="reverse", condition="whitebox", residual="raw", cap_tokens=300)
    sample = log.samples[0]
    first = next(e for e in sample.events if e.event == "model")
    assert [t.name for t in first.tools] == tool_names("whitebox")
    results = [m for m in sample.messages if m.role == "tool"]
    assert results[0].error is not None and "run_model" in results[0].error.message
    expected = call_tool(load("reverse"), "decode_residual", {"input": ["a", "b"], "layer": 0},
                         ToolContext(condition="whitebox", residual="raw", cap_tokens=300))
    assert results[1].text == expected.text and "d0" in results[1].text and "tokens:" not in results[1].text


def test_a_transformed_subject_is_its_own_sample_and_reads_back_with_its_transform(tmp_path, load):
    from tracr_agent.tools.subjects.transforms import apply_transform

    script = [call("decode_residual", {"input": ["a", "b"], "layer": 0}), call("submit_prediction", PREDICTION)]
    log = run(tmp_path, script, tasks="reverse@rotated:2", condition="whitebox")
    sample, = log.samples
    assert sample.id == "reverse@rotated:2"
    expected = call_tool(apply_transform(load("reverse"), "rotated:2"), "decode_residual",
                         {"input": ["a", "b"], "layer": 0}, ToolContext(condition="whitebox"))
    assert [m.text for m in sample.messages if m.role == "tool"][0] == expected.text
    assert scored(sample).metadata["score"]["functional"]["correct"] is True
    out = tmp_path / "from-inspect"
    r = cli({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}, "rescore", log.location, "--out", out)
    assert r.returncode == 0 and "whitebox (rotated:2)" in r.stdout, r.stdout + r.stderr
    record = json.loads((out / "results.jsonl").read_text())
    assert (record["key"], record["task"], record["transform"]) == (
        "reverse@rotated:2|whitebox|inspect:mockllm/model|0", "reverse", "rotated:2")


def test_after_the_tool_limit_only_submit_prediction_is_offered(tmp_path):
    script = [call("model_info", {}), call("list_hooks", {}), call("submit_prediction", PREDICTION)]
    log = run(tmp_path, script, tasks="reverse", condition="full", max_tool_calls=2)
    sample = log.samples[0]
    model_events = [e for e in sample.events if e.event == "model"]
    assert [t.name for t in model_events[-1].tools] == ["submit_prediction"]
    assert model_events[-1].tool_choice.name == "submit_prediction"
    assert any(m.role == "user" and m.text.startswith("You have reached the tool-call limit") for m in sample.messages)
    assert scored(sample).metadata["forced"] is True and scored(sample).value["functional"] == 1.0


def test_static_condition_is_one_prompt_and_a_text_answer(tmp_path, load):
    from tracr_agent.agent.investigators.static import static_prompt

    answer = f"It mirrors the sequence.\n```python\n{REVERSE}```\nPREDICTION: reverse"
    log = run(tmp_path, [text(answer)], tasks="reverse", condition="static")
    sample = log.samples[0]
    assert [m.role for m in sample.messages] == ["user", "assistant"]
    assert sample.messages[0].text == static_prompt(load("reverse"), "static")
    score = scored(sample)
    assert score.metadata["prediction"]["label"] == "reverse"
    assert score.value["functional"] == 1.0


def test_an_inspect_agent_can_replace_our_solver(tmp_path, load):
    """Inspect's own react agent, given our tools through tracr_tools(), scored by our scorer."""
    from inspect_ai.agent import react

    from tracr_agent.agent.integrations.inspect_task import interp
    from tracr_agent.agent.integrations.inspect_tools import tracr_tools

    script = [call("model_info", {}), call("submit_prediction", PREDICTION), call("submit", {"answer": "done"})]
    logs = inspect_eval(interp(tasks="reverse", solver=react(tools=[tracr_tools()])),
                        model=get_model("mockllm/model", custom_outputs=script), log_dir=str(tmp_path),
                        display="none")
    sample = logs[0].samples[0]
    results = [m for m in sample.messages if m.role == "tool"]
    assert results[0].text == call_tool(load("reverse"), "model_info", {}, ToolContext()).text
    assert scored(sample).value["functional"] == 1.0 and scored(sample).metadata["prediction"] == PREDICTION


@pytest.mark.parametrize("args, message", [
    ({"condition": "nope"}, "unknown condition(s) nope; choose from: static, static+io, blackbox, whitebox, full"),
    ({"residual": "fuzzy"}, "unknown residual mode(s) fuzzy"),
    ({"tasks": "no-such-task"}, "no-such-task"),
    ({"tasks": ""}, "give -T tasks="),
    ({"cap_tokens": 5}, "cap"),
])
def test_bad_task_arguments_are_one_line(args, message):
    from inspect_ai._util.error import PrerequisiteError

    from tracr_agent.agent.integrations.inspect_task import interp

    with pytest.raises(PrerequisiteError) as e:
        interp(**{"tasks": "reverse", **args})
    assert message in e.value.message and "\n" not in e.value.message
    assert e.value.message.startswith("tracr_agent/interp: ")


@pytest.mark.slow
def test_inspect_cli_names_a_bad_condition_in_one_line(tmp_path):
    inspect = [sys.executable, "-m", "inspect_ai", "eval", "tracr_agent/interp", "-T", "tasks=reverse",
               "-T", "condition=nope", "--model", "mockllm/model", "--log-dir", str(tmp_path)]
    r = subprocess.run(inspect, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    out = (r.stdout + r.stderr).strip()
    assert r.returncode != 0
    assert out == "tracr_agent/interp: unknown condition(s) nope; choose from: static, static+io, blackbox, " \
                  "whitebox, full", out


# -- the log read back -------------------------------------------------------------------------


def test_replay_renders_the_log_and_rerun_matches(full_run, tmp_path):
    env = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
    r = cli(env, "replay", full_run.location, "--plain")
    assert r.returncode == 0, r.stderr
    for expected in ("sample reverse", "model_info", "run_model", "submit_prediction", "label: reverse",
                     "implementation correct (100.0% of 1364 inputs)"):
        assert expected in r.stdout
    r = cli(env, "replay", full_run.location, "--rerun")
    assert r.returncode == 0, r.stdout + r.stderr
    # the call Inspect refused (schema) is skipped: call_tool never ran it
    assert "4 tool call(s) re-executed: 4 match, 0 differ; 1 skipped" in r.stdout
    r = cli(env, "replay", full_run.location, "--sample", "sort")
    assert r.returncode == 2 and "has no sample 'sort'; its samples: reverse" in r.stderr


def test_rescore_and_view_read_the_log(full_run, tmp_path):
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    out = tmp_path / "from-inspect"
    r = cli(env, "rescore", full_run.location, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "rescored 1 episodes; 0 score(s) changed" in r.stdout
    record = json.loads((out / "results.jsonl").read_text())
    assert record["key"] == "reverse|full|inspect:mockllm/model|0"
    assert record["functional_correct"] is True and record["label_correct"] is True
    assert record["tool_calls"] == 4 and record["llm_turns"] == 5 and record["tokens"] == 600
    assert cli(env, "report", out).returncode == 0
    r = cli(env, "view", full_run.location, "-o", tmp_path / "v.html")
    assert r.returncode == 0 and "(1 episode(s))" in r.stdout
    page = (tmp_path / "v.html").read_text()
    assert "attention_pattern" in page and "reverse" in page
    r = cli(env, "rescore", full_run.location, "--out", tmp_path)  # a folder holding other things
    assert r.returncode == 2 and "already holds other files" in r.stderr


def test_a_log_of_another_task_is_refused(tmp_path):
    from inspect_ai import Task
    from inspect_ai.dataset import Sample

    log = inspect_eval(Task(dataset=[Sample(input="hi")]), model=get_model("mockllm/model", custom_outputs=[text("x")]),
                       log_dir=str(tmp_path), display="none")[0]
    r = cli({"COLUMNS": "200"}, "replay", log.location)
    assert r.returncode == 2 and "not of tracr_agent/interp" in r.stderr


def test_a_failed_sample_reads_back_as_an_error_and_one_without_an_episode_is_named(tmp_path):
    from inspect_ai.log import read_eval_log, write_eval_log
    from inspect_ai.solver import solver

    from tracr_agent.agent.integrations.inspect_task import interp

    @solver
    def breaks():
        async def solve(state, generate):
            raise RuntimeError("the solver broke")
        return solve

    log = inspect_eval(interp(tasks="reverse,length", solver=breaks()), model=get_model("mockllm/model"),
                       log_dir=str(tmp_path / "logs"), display="none", fail_on_error=False)[0]
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    r = cli(env, "rescore", log.location, "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (tmp_path / "ev" / "results.jsonl").read_text().splitlines()]
    assert sorted((x["task"], x["status"]) for x in records) == [("length", "error"), ("reverse", "error")]
    assert all("the solver broke" in x["error"] for x in records)
    # a sample whose setup never ran has no episode to read: named in one warning, the rest is shown
    whole = read_eval_log(log.location)
    whole.samples[0].store = {}
    stripped = tmp_path / "stripped.eval"
    write_eval_log(whole, str(stripped))
    r = cli(env, "view", stripped, "-o", tmp_path / "v.html")
    assert r.returncode == 0 and "(1 episode(s))" in r.stdout
    assert f"sample {whole.samples[0].id} of" in r.stderr and "has no tracr-agent episode" in r.stderr


def test_a_tracr_agent_run_exported_opens_in_inspect_and_reads_back_the_same(tmp_path):
    from inspect_ai.log import read_eval_log

    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    ev = tmp_path / "ev"
    assert cli(env, "eval", "--tasks", "reverse,length", "--llm", "baseline", "--out", ev).returncode == 0
    r = cli(env, "export", ev, "--format", "inspect")
    assert r.returncode == 0, r.stderr
    exported = ev / "inspect" / "full-labelled-baseline.eval"
    log = read_eval_log(str(exported))  # what `inspect view` reads
    assert log.eval.task == "tracr_agent/interp" and log.eval.model == "baseline"
    assert sorted(s.id for s in log.samples) == ["length", "reverse"]
    originals = {json.loads(line)["task"]: json.loads(line) for line in (ev / "results.jsonl").read_text().splitlines()}
    for sample in log.samples:
        assert any(m.role == "tool" for m in sample.messages)
        assert scored(sample).metadata["score"] == originals[sample.id]["score"]
    # …and back: the same records, and every tool result re-executes to the same text
    r = cli(env, "rescore", exported, "--out", tmp_path / "back")
    assert r.returncode == 0, r.stderr

    def comparable(folder):
        out = {}
        for line in (folder / "results.jsonl").read_text().splitlines():
            rec = json.loads(line)
            for field in ("duration_s", "transcript"):
                rec.pop(field)
            rec["score"]["functional"].pop("seconds")
            out[rec["key"]] = rec
        return out

    assert comparable(tmp_path / "back") == comparable(ev)
    r = cli(env, "replay", exported, "--rerun")
    assert r.returncode == 0 and r.stdout.count(" match, 0 differ;") == 2, r.stdout  # one table per sample
