"""Suites of imported models: `eval --tasks dir:PATH` runs every model directory under PATH,
scores against the model's own outputs, records the suite, and the report groups by it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation.batch import read_results

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, list(args))


def test_eval_dir_suite_end_to_end(tmp_path):
    suite = tmp_path / "imported"
    for task in ("reverse", "sort"):
        r = cli("compile", task, "--out", str(suite / f"m_{task}"))
        assert r.exit_code == 0, r.output
    out = tmp_path / "ev"
    r = cli("eval", "--tasks", f"dir:{suite}", "--conditions", "full", "--llm", "baseline", "--out", str(out))
    assert r.exit_code == 0, r.output
    records = read_results(out)
    assert sorted(rec.task for rec in records) == ["m_reverse", "m_sort"]
    assert all(rec.suite == "imported" for rec in records)
    assert all(rec.status == "prediction" and rec.score for rec in records)
    # no label to look up: functional scoring against the model's own outputs decides
    assert all(rec.functional_correct is True and rec.agreement == 1.0 for rec in records), \
        [(rec.task, rec.functional_correct, rec.agreement, rec.error) for rec in records]
    line = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert line["suite"] == "imported"
    md = (out / "report.md").read_text()
    # an imported model has no label: "n/a", not 0/1, and the headline leads with functional accuracy
    assert "| imported/m_reverse | full | baseline | 1 | n/a |" in md
    assert "| (suite imported) | full | baseline | 2 | n/a |" in md
    assert "- full · baseline: functional 2/2" in md and "label n/a (2 without a label: n/a)" in md
    # report and rescore score the suite's models from the folder the user names, never from a path a
    # transcript names: without --models the episodes are unscorable, with another model refused
    r = cli("report", str(out))
    assert r.exit_code == 0 and "UNSCORABLE: 2 of 2" in " ".join(r.output.split()) and "--models" in r.output
    r = cli("report", str(out), "--models", str(suite))
    assert r.exit_code == 0 and "imported/m_sort" in r.output and "UNSCORABLE" not in r.output, r.output
    r = cli("rescore", str(out), "--models", str(suite))
    assert r.exit_code == 0 and "rescored 2 episodes; 0 score(s) changed" in r.output, r.output
    swapped = tmp_path / "swapped"
    (swapped / "m_sort").parent.mkdir()
    (swapped / "m_sort").symlink_to(suite / "m_reverse")
    (swapped / "m_reverse").symlink_to(suite / "m_reverse")
    r = cli("rescore", str(out), "--models", str(swapped))
    assert "1 unscorable" in r.output and "a different model m_sort" in " ".join(r.output.split()), r.output


def test_eval_dir_suite_bad_input(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "nomodels" / "sub").mkdir(parents=True)
    (tmp_path / "nomodels" / "sub" / "notes.txt").write_text("x")
    cases = [(f"dir:{tmp_path / 'missing'}", "is not a directory"),
             (f"dir:{empty}", "holds no model directory"),
             (f"dir:{tmp_path / 'nomodels'}", "holds no model directory"),
             ("dir:", "needs a directory")]
    for spec, msg in cases:
        out = tmp_path / "ev"
        r = cli("eval", "--tasks", spec, "--llm", "baseline", "--out", str(out))
        assert r.exit_code == 2, (spec, r.output)
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.output, (spec, r.output)
        assert not out.exists()  # refused before anything is written
    # a bad card inside the suite is named before any episode starts
    bad = tmp_path / "badsuite" / "m"
    r = cli("compile", "reverse", "--out", str(bad))
    assert r.exit_code == 0
    card = json.loads((bad / "model.json").read_text())
    card["input_encoding"]["bos"] = "<s>"
    (bad / "model.json").write_text(json.dumps(card))
    r = cli("eval", "--tasks", f"dir:{bad.parent}", "--llm", "baseline", "--out", str(tmp_path / "ev2"))
    assert r.exit_code == 2 and "field 'input_encoding.bos'" in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_eval_program_end_to_end(tmp_path):
    """`eval --program FILE.py:FUNC` (as `run --program`): the user's program is compiled once, its episode
    is recorded in the `program` suite with no label to match, scored functionally, and rescored."""
    prog = tmp_path / "mine.py"
    prog.write_text("from tracr.rasp import rasp\n\n\ndef shifted():\n"
                    "    return rasp.categorical(rasp.Map(lambda x: x + 3, rasp.tokens)), {0, 1, 2}, 4\n")
    spec = f"{prog}:shifted"
    out = tmp_path / "ev"
    r = cli("eval", "--program", spec, "--tasks", "reverse", "--conditions", "full", "--llm", "baseline",
            "--out", str(out))
    assert r.exit_code == 0, r.output
    records = {rec.task: rec for rec in read_results(out)}
    assert set(records) == {"mine.py:shifted", "reverse"}
    mine = records["mine.py:shifted"]
    assert mine.suite == "program" and mine.status == "prediction" and mine.features is None
    assert mine.label_correct is None and mine.functional_correct is True, (mine.error, mine.score)
    assert "| program/mine.py:shifted | full | baseline | 1 | n/a |" in (out / "report.md").read_text()
    # a program a record names is never imported: rescoring needs the user to name the file again
    r = cli("rescore", str(out))
    assert r.exit_code == 0 and "rescored 1 episodes; 1 score(s) changed; 1 unscorable" in r.output, r.output
    assert "name its file with --program FILE.py:FUNC" in r.output
    r = cli("rescore", str(out), "--program", spec)
    assert r.exit_code == 0 and "rescored 2 episodes; 1 score(s) changed" in r.output, r.output
    assert {rec.task: rec.functional_correct for rec in read_results(out)} == {"mine.py:shifted": True, "reverse": True}


def test_eval_program_bad_input(tmp_path):
    for args, needle in ((("--program", str(tmp_path / "missing.py") + ":f"), "does not exist"),
                         (("--program", "nocolon"), "FILE.py:FUNCTION"),
                         ((), "give --tasks")):
        r = cli("eval", *args, "--llm", "baseline", "--out", str(tmp_path / "ev"))
        assert r.exit_code == 2 and needle in r.output, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
