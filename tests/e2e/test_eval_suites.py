"""Suites of imported models: `eval --tasks dir:PATH` runs every model directory under PATH,
scores against the model's own outputs, records the suite, and the report groups by it."""

from __future__ import annotations

import json

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
