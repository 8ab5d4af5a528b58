"""`dir:PATH` as the subject of run, tool, show and lab: one model directory, as `--model-dir`.

`eval --tasks dir:PATH` takes a whole suite (tests/e2e/test_eval_suites.py); a single-episode command
takes one model: PATH holding model.json, or a suite folder with exactly one model below it, or
`dir:SUITE/NAME`. A suite of several, a missing or empty PATH, or a second subject is one line, exit 2.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.records import transcript as tr
from tracr_agent.tools.subjects.modeldir import write_model_dir


@pytest.fixture
def suite(tmp_path, reverse_subject, sort_subject):
    root = tmp_path / "suite"
    write_model_dir(root / "rev", reverse_subject.card, reverse_subject.weights)
    write_model_dir(root / "nested" / "srt", sort_subject.card, sort_subject.weights)
    return root


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_run_dir_suite_name_runs_that_model(suite, tmp_path):
    path = tmp_path / "t.jsonl"
    r = invoke("run", f"dir:{suite}/rev", "--llm", "baseline", "-q", "--transcript", path)
    assert r.exit_code == 0, r.output
    assert "implementation correct (100.0%" in r.output
    header = tr.read_transcript(path)[0][0]
    assert header.subject.kind == "model_dir" and header.subject.source == str((suite / "rev").resolve())
    # the same subject as --model-dir
    r2 = invoke("run", "--model-dir", suite / "rev", "--llm", "baseline", "-q", "--transcript", tmp_path / "u.jsonl")
    assert tr.read_transcript(tmp_path / "u.jsonl")[0][0].subject.fingerprint == header.subject.fingerprint


def test_tool_and_show_take_dir_and_a_folder_with_one_model(suite):
    r = invoke("tool", f"dir:{suite}/nested", "model_info")  # one model below: that one
    assert r.exit_code == 0, r.output
    assert "input vocab: [1, 2, 3, 4]" in r.output
    r = invoke("show", f"dir:{suite}/rev")
    assert r.exit_code == 0 and 'input vocab: ["a", "b", "c", "d"]' in r.output


@pytest.mark.parametrize("spec, words", [
    ("dir:{suite}", ["is a suite of 2 models (nested/srt, rev)", "dir:{suite}/nested/srt", "eval --tasks dir:{suite}"]),
    ("dir:", ["needs a directory after 'dir:'"]),
    ("dir:{suite}/missing", ["is not a directory"]),
    ("dir:{empty}", ["holds no model directory"]),
])
def test_run_dir_bad_input_is_one_line_exit_2(suite, tmp_path, spec, words):
    (tmp_path / "empty").mkdir()
    fill = lambda s: s.replace("{suite}", str(suite)).replace("{empty}", str(tmp_path / "empty"))  # noqa: E731
    out = tmp_path / "out"
    r = invoke("run", fill(spec), "--llm", "baseline", "--out", out)
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert line.startswith("error:") and "\n" not in line and "Traceback" not in line
    for w in words:
        assert fill(w) in line, line
    assert not out.exists()


def test_dir_and_model_dir_together_is_refused(suite, tmp_path):
    r = invoke("run", f"dir:{suite}/rev", "--model-dir", suite / "rev", "--llm", "baseline", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "name exactly one subject" in r.output


def test_compile_refuses_a_model_directory(suite):
    r = invoke("compile", f"dir:{suite}/rev")
    assert r.exit_code == 2 and "already compiled" in r.output


def test_compile_out_never_overwrites_a_different_model(suite):
    before = {p.name: p.read_bytes() for p in (suite / "rev").iterdir()}
    r = invoke("compile", "sort", "--out", suite / "rev")
    assert r.exit_code == 2 and "already holds a different model" in r.output, r.output
    assert "Traceback" not in r.output
    assert {p.name: p.read_bytes() for p in (suite / "rev").iterdir()} == before
    r = invoke("compile", "reverse", "--out", suite / "rev")  # the same model again: fine
    assert r.exit_code == 0, r.output


def test_a_broken_model_json_is_one_line_that_says_what_is_wrong(suite):
    (suite / "rev" / "model.json").write_text('{"x":')
    for args in (["show", f"dir:{suite}/rev"], ["run", f"dir:{suite}/rev", "--llm", "baseline", "-q"]):
        r = invoke(*args)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, (args, r.output)
        assert "model.json is not a model card: Invalid JSON" in r.output and "field ''" not in r.output, r.output
