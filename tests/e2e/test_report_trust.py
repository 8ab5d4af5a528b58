"""What the report says about how far its numbers can be trusted: forced submissions and the limits
reached (from results.jsonl, written by a real `eval`), unknown costs, and a warning when a row's trials
are deterministic replicas (the same prompt and settings to an investigator that answers alike)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation.batch import ResultRecord
from tracr_agent.agent.evaluation.report import replica_notes, summarize, row_cells

runner = CliRunner()


def test_a_real_eval_records_forced_submissions_and_warns_of_replicas(tmp_path):
    out = tmp_path / "ev"
    r = runner.invoke(app, ["eval", "--tasks", "reverse", "--llm", "baseline", "--trials", "2", "--max-tool-calls", "2",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(x["forced"], x["limit"], x["replicable"]) for x in records] == [(True, "tool-call", True)] * 2
    assert records[0]["prompt_sha"] == records[1]["prompt_sha"] is not None
    md = (out / "report.md").read_text()
    assert "| 2/2 (tool-call 2) |" in md
    assert ("> ⚠ reverse · full · baseline: the 2 trials are deterministic replicas (identical prompts and settings, "
            "a deterministic investigator)") in md
    assert "deterministic replicas" in (out / "report.html").read_text()
    assert "deterministic replicas" in r.output


def rec(trial: int, **fields) -> ResultRecord:
    return ResultRecord(**{"key": f"reverse|full|m|{trial}", "task": "reverse", "condition": "full", "llm": "m",
                           "trial": trial, "status": "prediction", **fields})


def test_replicas_need_the_same_prompt_and_an_investigator_that_answers_alike():
    same = dict(prompt_sha="abc", temperature=0.0, replicable=True)
    assert len(replica_notes([rec(0, **same), rec(1, **same)])) == 1
    assert "temperature 0" in replica_notes([rec(0, **same), rec(1, **same)])[0]
    assert replica_notes([rec(0, **same), rec(1, **{**same, "prompt_sha": "def"})]) == []  # seeds changed the prompt
    sampled = dict(prompt_sha="abc", temperature=None, replicable=False)  # the provider's default sampling
    assert replica_notes([rec(0, **sampled), rec(1, **sampled)]) == []
    assert replica_notes([rec(0, **same)]) == []  # one trial is no replica


def test_unknown_costs_and_forced_cells():
    rows = summarize([rec(0, cost=0.0, cost_unknown=True, forced=True, limit="context (tokens)"),
                      rec(1, cost=0.25, forced=False)])
    cells = dict(zip(("cost", "forced"), row_cells(rows[0])[-3::2]))
    assert cells == {"cost": "0.2500 + unknown", "forced": "1/2 (context (tokens) 1)"}
