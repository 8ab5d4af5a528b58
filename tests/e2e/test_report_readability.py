"""`tracr-agent report` over results whose scores measure readability: the explanations table gives,
per condition and investigator, the share of submitted steps written as named primitives rather
than tables, and the description's length. The records here have no transcripts to score them
from, so `report_records` hands them over as recorded (as tests/e2e/test_report.py does)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation import report
from tracr_agent.agent.evaluation.batch import ResultRecord, read_results
from tracr_agent.agent.scoring.explanation import explain
from tracr_agent.agent.scoring.verdicts import FunctionalScore, Score

NAMED = ("def f(tokens):\n    n = [len(tokens)] * len(tokens)\n    last = [x - 1 for x in n]\n"
         "    return [tokens[i] for i in last]\n")
TABULAR = ("T = {'a': 'b', 'b': 'a'}\n\ndef f(tokens):\n    v = [T[t] for t in tokens]\n"
           "    w = [x + '!' for x in v]\n    return w\n")


@pytest.fixture(autouse=True)
def as_recorded(monkeypatch):
    monkeypatch.setattr(report, "report_records", lambda out_dir, *a, **k: read_results(out_dir, strict=True))


def record(task: str, llm: str, source: str, description: str) -> ResultRecord:
    score = Score(functional=FunctionalScore(agreement=1.0, n_inputs=10, correct=True),
                  explanation=explain(source, ["a", "b"], 3, description=description), explained=True)
    return ResultRecord(key=f"{task}|whitebox|{llm}|0", task=task, condition="whitebox", llm=llm, trial=0,
                        status="prediction", functional_correct=True, explained=True, score=score)


def test_the_report_measures_named_steps_and_description_length(tmp_path):
    d = tmp_path / "ev"
    d.mkdir()
    recs = [record("reverse", "decompiler", NAMED, "one two three four"),
            record("sort", "decompiler", NAMED, "one two"),
            record("reverse", "baseline", TABULAR, "a much longer description of six words")]
    (d / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in recs))
    r = CliRunner().invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    md = (d / "report.md").read_text()
    assert "## Explanations: steps written as named primitives (not tables), description length" in md
    # NAMED: 3 steps (the length, last, the return), none keeps a table; TABULAR: 2 steps, one reads T
    assert "| whitebox | decompiler | 2 | 3.0 | 6/6 (100%) | 3 (4) |" in md
    assert "| whitebox | baseline | 1 | 2.0 | 1/2 (50%) | 7 (7) |" in md
    assert "Explanations: steps written as named primitives" in (d / "report.html").read_text()
