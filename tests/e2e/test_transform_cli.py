"""The transform suffix (`ID@rotated[:SEED]`, `ID@compressed[:D]`) through the real CLI, in every command
that names a subject: show, tool, run, lab, resume, replay --rerun, eval (`--transforms` as an axis),
report, view and rescore. Transcripts record the transform; `--rerun` rebuilds it and checks the
fingerprint; bad input is one line."""

from __future__ import annotations

import json
import os

import pytest
from terminal import cli, events_of, of_type

from tracr_agent.agent.evaluation.batch import read_results
from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.subjects.leak import find_label_leaks

NOT_PRIVILEGED = "residual basis: not privileged"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("transform-cli")
    env = dict(os.environ, COLUMNS="200", TERM="dumb", NO_COLOR="1", TRACR_AGENT_SESSIONS=str(d / "sessions.sqlite"),
               XDG_DATA_HOME=str(d / "data"))
    env.pop("TRACR_AGENT_LLM", None)
    return env


def ok(p):
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def one_line_error(p, needle: str):
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def test_show_prints_the_transform(env):
    out = ok(cli(env, "show", "reverse@rotated:3"))
    assert "d_model: 43" in out and NOT_PRIVILEGED in out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("transform: rotated (seed 3)"))
    assert "RASP source" in "".join(lines[at:])  # the transform with the architecture, before the source


def test_show_on_a_compressed_subject_prints_d_training_time_and_loss(env):
    out = ok(cli(env, "show", "identity_map@compressed:6"))
    assert "d_model: 6" in out and NOT_PRIVILEGED in out
    assert "transform: compressed to D = 6 of d_model 15 (D/d_model = 0.40; D as asked), then rotated (seed 0)" in out
    training = next(line for line in out.splitlines() if line.startswith("training: "))
    assert " s wall, " in training and "final loss " in training and "outputs equal on 1364 of 1364 inputs" in training


def test_a_refused_compression_is_one_line_and_caches_nothing(env, load):
    from tracr_agent.tools.subjects.transforms import cache

    line = one_line_error(cli(env, "show", "identity_map@compressed:1"), "compressed:1 is not faithful")
    assert "outputs equal the original's on 0 of 1364 inputs" in line
    assert not cache._entry(cache.key(load("identity_map"), 1, 0)).exists()


@pytest.mark.parametrize("args, needle", [
    (("show", "reverse@rotate"), "unknown transform 'rotate' (did you mean rotated?)"),
    (("tool", "reverse@rotated:x", "model_info"), "rotated:SEED takes an integer SEED, got 'x'"),
    (("show", "reverse@compressed:0"), "compressed:D needs D of at least 1, got 0"),
    (("run", "reverse@compressed:43", "--llm", "baseline-closed", "-q"), "compressed:D needs D below d_model = 43"),
    (("lab", "reverse@compressed:99"), "compressed:D needs D below d_model = 43"),
    (("show", "--model-dir", "nowhere@twisted"), "--model-dir 'nowhere@twisted': unknown transform 'twisted'"),
    (("eval", "--tasks", "reverse", "--transforms", "none,twisted", "--out", "unused"), "--transforms 'twisted'"),
    (("eval", "--tasks", "reverse@rotated", "--transforms", "compressed", "--out", "unused"),
     "names its transform and --transforms gives more"),
    (("compile", "reverse@rotated", "--verify"), "without its @transform"),
])
def test_bad_transform_is_one_line(env, tmp_path, args, needle):
    one_line_error(cli(env, *[str(tmp_path / a) if a == "unused" else a for a in args]), needle)
    assert not (tmp_path / "unused").exists()  # refused before anything was written


def test_tool_takes_the_suffix_for_every_kind_of_subject(env, tmp_path, reverse_subject):
    from tracr_agent.tools.subjects.modeldir import write_model_dir

    model = tmp_path / "exported"
    write_model_dir(model, reverse_subject.card, reverse_subject.weights)
    program = tmp_path / "prog.py"
    program.write_text("from tracr.rasp import rasp\n\ndef make():\n"
                       "    return rasp.Map(lambda x: 'b' if x == 'a' else 'a', rasp.tokens), {'a', 'b'}, 3\n")
    labelled = ok(cli(env, "tool", "reverse", "decode_residual", '{"input": ["a", "b"], "layer": 0}'))
    assert find_label_leaks(labelled, reverse_subject)  # the untransformed subject names its variables
    for args in (["reverse@rotated:3"], ["gen-0-1-0@rotated"], ["--model-dir", f"{model}@rotated:3"],
                 [f"dir:{model}@rotated:3"], ["--program", f"{program}:make@rotated"]):
        info = ok(cli(env, "tool", *args, "model_info"))
        assert NOT_PRIVILEGED in info, args
        if "reverse" in args[0] or "exported" in args[-1]:
            text = ok(cli(env, "tool", *args, "decode_residual", '{"input": ["a", "b"], "layer": 0}'))
            assert "unlabelled" in text and not find_label_leaks(text, reverse_subject), (args, text)
    a = ok(cli(env, "tool", "reverse@rotated:3", "decode_residual", '{"input": ["a", "b"], "layer": 0}'))
    assert a == ok(cli(env, "tool", "--model-dir", f"{model}@rotated:3", "decode_residual",
                       '{"input": ["a", "b"], "layer": 0}'))  # the same model, turned by the same seed


def test_run_records_the_transform_and_rerun_rebuilds_it(env, tmp_path):
    path = tmp_path / "run.jsonl"
    ok(cli(env, "run", "reverse@rotated:2", "--llm", "baseline-closed", "--condition", "whitebox", "-q",
           "--transcript", path))
    events = events_of(path)
    subject = events[0].subject
    assert subject.spec == "reverse@rotated:2" and subject.transform.name == "rotated" and subject.transform.seed == 2
    assert subject.name == "reverse@rotated:2" and events[0].schema_minor == tr.SCHEMA_MINOR
    assert len(of_type(events, tr.ToolResultEvent)) > 3
    out = ok(cli(env, "replay", "--rerun", path))
    assert "reverse@rotated:2" in out and "0 differ" in out
    assert "subject reverse@rotated:2" in ok(cli(env, "replay", path))

    # the recorded seed is what is rebuilt: another seed is another model
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["subject"]["spec"] = "reverse@rotated:3"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    p = cli(env, "replay", "--rerun", path)
    assert p.returncode == 2 and "subject fingerprint mismatch" in p.stderr and "reverse@rotated:3" in p.stderr


def test_lab_and_resume_on_a_transformed_subject(env, tmp_path):
    path = tmp_path / "lab.jsonl"
    calls = ['model_info', 'component_writes {"component": "3.0"}',
             'project {"input": ["a", "b", "c"], "component": "3.0"}',
             'project {"input": ["c", "a"], "probe": {"hook": "blocks.3.hook_resid_post", "property": "token"}}']
    p = cli(env, "lab", "reverse@rotated:5", "--condition", "whitebox", "--transcript", path,
            input="\n".join(calls + ["pause"]) + "\n")
    assert NOT_PRIVILEGED in ok(p)
    sid = p.stdout.split("tracr-agent resume ")[1].split()[0]
    rows = {r["id"]: r for r in json.loads(ok(cli(env, "sessions", "--json")))}
    assert rows[sid]["subject"] == "reverse@rotated:5"
    submit = {"label": "reverse", "description": "reversed", "implementation": "def f(t):\n    return t[::-1]\n",
              "confidence": 0.9}
    out = ok(cli(env, "resume", sid, input="submit_prediction " + json.dumps(submit) + "\n"))
    assert "implementation correct (100.0% of 1364 inputs)" in out
    events = events_of(path)
    assert events[0].subject.transform.seed == 5 and events[-1].status == "prediction"
    results = {e.name: e for e in of_type(events, tr.ToolResultEvent)}
    assert "rank of the subspace they span: 4 of 43 dims" in results["component_writes"].text
    assert "decoded by direction" in results["project"].text
    rerun = ok(cli(env, "replay", "--rerun", path))  # the sample, the fits and the clusters are all deterministic
    assert "5 tool call(s) re-executed: 5 match, 0 differ" in rerun


def test_eval_takes_transforms_as_an_axis_and_every_reader_breaks_results_down_by_it(env, tmp_path):
    out = tmp_path / "ev"
    ok(cli(env, "eval", "--tasks", "reverse", "--transforms", "none,rotated:1", "--conditions", "full",
           "--llm", "baseline-closed", "--out", out))
    records = sorted(read_results(out), key=lambda r: r.key)
    assert [(r.key, r.task, r.transform) for r in records] == [
        ("reverse@rotated:1|full|baseline-closed|0", "reverse", "rotated:1"),
        ("reverse|full|baseline-closed|0", "reverse", None)]
    assert all(r.functional_correct for r in records)
    transcript = events_of(out / records[0].transcript)
    assert transcript[0].subject.spec == "reverse@rotated:1"

    ok(cli(env, "report", out))
    md = (out / "report.md").read_text()
    assert "| reverse | full (rotated:1) | baseline-closed (closed-world) | 1 |" in md
    assert "| reverse | full | baseline-closed (closed-world) | 1 |" in md
    assert "transform=rotated%3A1" in md and "transform=none" in md  # the rows' links into the viewer
    ok(cli(env, "view", out))
    page = (out / "view.html").read_text()
    assert 'data-transform="rotated:1"' in page and 'data-transform="none"' in page
    assert "rotated (seed 1): a random orthonormal residual basis" in page  # the episode's facts

    rescored = ok(cli(env, "rescore", out))
    assert "full (rotated:1)" in rescored and "rescored 2 episodes; 0 score(s) changed" in rescored
    # exported as an Inspect log and read back: the same episodes, the transform in its column
    log, = [line.split("wrote ", 1)[1] for line in ok(cli(env, "export", out, "--format", "inspect")).splitlines()]
    back = tmp_path / "back"
    assert "rescored 2 episodes; 0 score(s) changed" in ok(cli(env, "rescore", log, "--out", back))
    assert sorted((r.key, r.transform) for r in read_results(back)) == [(r.key, r.transform) for r in records]
    assert "resuming: 2 of 2 episodes already done" in cli(env, "eval", "--tasks", "reverse", "--transforms",
                                                          "none,rotated:1", "--conditions", "full", "--llm",
                                                          "baseline-closed", "--out", out, "--resume").stderr
    # a task named with its transform is the same column, and the same key
    ok(cli(env, "eval", "--tasks", "reverse@rotated:1", "--conditions", "full", "--llm", "baseline-closed",
           "--out", tmp_path / "named"))
    named = read_results(tmp_path / "named")
    assert [(r.key, r.task, r.transform) for r in named] == [(records[0].key, "reverse", "rotated:1")]


@pytest.mark.slow  # trains compressions of two subjects (cached afterwards)
def test_eval_with_compressed_subjects(env, tmp_path):
    out = tmp_path / "ev"
    ok(cli(env, "eval", "--tasks", "identity_map,gen:0:1:1", "--transforms", "none,rotated,compressed",
           "--conditions", "full,static", "--llm", "baseline-closed", "--out", out))
    records = read_results(out)
    assert len(records) == 12 and {r.transform for r in records} == {None, "rotated", "compressed"}
    assert {r.task for r in records} == {"identity_map", "gen-0-1-0"}
    assert all(r.status == "prediction" for r in records)
    # the closed-world lookup knows the zoo's task on every version of it (a generated one it cannot know)
    assert all(r.functional_correct for r in records if r.condition == "full" and r.task == "identity_map")
    for r in records:
        header = events_of(out / r.transcript)[0]
        assert (header.subject.transform.name if header.subject.transform else None) == r.transform
