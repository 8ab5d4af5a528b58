"""Headless batch evaluation through the real CLI: run, report, kill + resume, rescore, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tracr_agent.agent.cli.main import app
from tracr_agent.agent.evaluation.batch import read_results

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, list(args))


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_batch_report_and_rescore(tmp_path):
    out = tmp_path / "ev"
    r = cli("eval", "--tasks", "reverse,sort,length", "--conditions", "full,blackbox", "--llm", "baseline-closed",
            "--trials", "3", "--concurrency", "2", "--out", str(out))
    assert r.exit_code == 0, r.output
    records = read_results(out)
    assert len(records) == 18
    assert len({rec.key for rec in records}) == 18
    assert all(rec.status == "prediction" for rec in records)
    assert all(rec.functional_correct and rec.label_correct for rec in records)
    assert len(list((out / "transcripts").glob("*.jsonl"))) == 18
    # report: table + files
    r = cli("report", str(out))
    assert r.exit_code == 0
    assert "reverse" in r.output and "3/3" in r.output
    md = (out / "report.md").read_text()
    assert "| reverse | blackbox | baseline-closed (closed-world) | 3 |" in md and "accuracy.png" in md
    page = (out / "report.html").read_text()
    parser = HTMLParser()
    parser.feed(page)
    accuracy_table = page.split("<table", 1)[1].split("</table>", 1)[0]
    assert accuracy_table.count("<tr>") == 9 and "data:image/png;base64," in page  # 6 rows + 2 '(all tasks)' rows
    assert "| (all tasks) | full | baseline-closed (closed-world) | 9 | 9/9 (100%" in md
    # rescore reproduces the scores written during the run
    before = {rec.key: (rec.label_correct, rec.functional_correct, rec.agreement) for rec in records}
    r = cli("rescore", str(out))
    assert r.exit_code == 0 and "0 score(s) changed" in r.output
    after = {rec.key: (rec.label_correct, rec.functional_correct, rec.agreement) for rec in read_results(out)}
    assert after == before


def test_rescore_notices_a_changed_prediction(tmp_path):
    out = tmp_path / "ev"
    assert cli("eval", "--tasks", "reverse", "--llm", "baseline", "--out", str(out)).exit_code == 0
    rec = read_results(out)[0]
    path = out / rec.transcript
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        ev = json.loads(line)
        if ev["type"] == "prediction":
            ev["implementation"] = "def f(tokens):\n    return list(tokens)\n"
            lines[i] = json.dumps(ev)
    path.write_text("\n".join(lines) + "\n")
    r = cli("rescore", str(out))
    assert "1 score(s) changed" in r.output
    assert read_results(out)[0].functional_correct is False


@pytest.mark.slow  # > 15 s: full suite only (see README, fast tier)
def test_kill_and_resume_loses_nothing(tmp_path):
    out = tmp_path / "ev"
    args = [sys.executable, "-m", "tracr_agent.agent.cli.main", "eval", "--tasks", "reverse,sort,length,hist", "--conditions", "full",
            "--llm", "baseline", "--trials", "3", "--concurrency", "1", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if len(read_results(out)) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(read_results(out))
    assert 2 <= partial < 12, partial
    r = cli("eval", "--tasks", "reverse,sort,length,hist", "--conditions", "full", "--llm", "baseline",
            "--trials", "3", "--out", str(out), "--resume")
    assert r.exit_code == 0, r.output
    keys = [rec.key for rec in read_results(out)]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert len(list((out / "transcripts").glob("*.jsonl"))) == 12


def test_preset_seed_runs_end_to_end(tmp_path):
    out = tmp_path / "seed"
    r = cli("eval", "--preset", "seed", "--llm", "baseline", "--trials", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    records = read_results(out)
    assert {(rec.task, rec.condition) for rec in records} == {
        (t, c) for t in ("reverse", "sort", "length") for c in ("static", "static+io", "whitebox", "full")}
    by = {(rec.task, rec.condition): rec for rec in records}
    assert all(by[(t, "full")].functional_correct for t in ("reverse", "sort", "length"))
    # the open-world baseline names no zoo task, but its label names the kind of computation
    assert all(by[(t, "full")].family_correct and by[(t, "full")].explained for t in ("reverse", "sort", "length"))
    assert all(by[(t, "static+io")].status == "prediction" for t in ("reverse", "sort", "length"))


def test_bad_input_fails_before_any_episode(tmp_path):
    out = tmp_path / "ev"
    for args, needle in [
        (("--tasks", "nope"), "unknown task 'nope'"),
        (("--tasks", "reverse", "--conditions", "sideways"), "unknown condition"),
        (("--tasks", "reverse", "--llm", "openai-compatible:m@http://127.0.0.1:9/v1"), "unreachable"),
        (("--tasks", "reverse", "--llm", "bogus"), "unknown --llm"),
    ]:
        r = cli("eval", *args, "--out", str(out))
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output and "Traceback" not in r.output
        assert not (out / "results.jsonl").exists()
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps({"format": "tracr-agent-eval/0"}))
    r = cli("eval", "--tasks", "reverse", "--llm", "baseline", "--out", str(out))
    assert r.exit_code == 2 and "incompatible" in r.output
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for bad, needle in [(a_file, "is a file, not a directory"), (a_file / "ev", "cannot create the evaluation directory")]:
        r = cli("eval", "--tasks", "reverse", "--llm", "baseline", "--out", str(bad))
        assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output, (bad, r.output)
        assert a_file.read_text() == "mine"


def test_rescore_and_report_never_keep_a_score_whose_transcript_is_torn_missing_or_outside(tmp_path):
    """A recorded "correct" counts for nothing: torn before its prediction, missing, or a path leading out
    of the evaluation directory (`..`, absolute, a symlink), the episode is unscorable: counted, never
    correct, and named in the headline of report.md and on the terminal."""
    out = tmp_path / "ev"
    assert cli("eval", "--tasks", "reverse", "--llm", "baseline-closed", "--out", str(out)).exit_code == 0
    before = (out / "results.jsonl").read_text()
    [rec] = read_results(out)
    assert rec.functional_correct
    path = out / rec.transcript
    whole = path.read_text()
    lines = whole.splitlines()
    cut = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "prediction")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text(whole)  # a correct transcript, but not the evaluation's own
    cases = {
        "torn": ("\n".join(lines[:cut]) + "\n" + lines[cut][:30], rec.transcript, "ends before its prediction"),
        "missing": (None, rec.transcript, "is missing"),
        "dotdot": (whole, "../elsewhere.jsonl", "outside the evaluation directory"),
        "absolute": (whole, str(outside), "outside the evaluation directory"),
        "symlink": ("link", rec.transcript, "outside the evaluation directory"),
    }
    for damage, (text, name, why) in cases.items():
        (out / "results.jsonl").write_text(before.replace(json.dumps(rec.transcript), json.dumps(name)))
        path.unlink(missing_ok=True)
        if text == "link":
            path.symlink_to(outside)
        elif text is not None:
            path.write_text(text)
        r = cli("report", str(out))
        assert r.exit_code == 0, (damage, r.output)
        assert "UNSCORABLE: 1 of 1 episode(s)" in " ".join(r.output.split()) and why in " ".join(r.output.split()), \
            (damage, r.output)
        md = (out / "report.md").read_text()
        assert "UNSCORABLE: 1 of 1" in md and "| reverse | full | baseline-closed (closed-world) | 1 | 0/1" in md, damage
        r = cli("rescore", str(out))
        assert r.exit_code == 0 and "rescored 0 episodes; 1 score(s) changed; 1 unscorable" in r.output, (damage, r.output)
        [again] = read_results(out)
        assert again.unscorable and why in again.unscorable, (damage, again.unscorable)
        assert again.functional_correct is None and again.label_correct is None and again.score is None
    # the whole transcript back: scored afresh, correct again
    path.unlink()
    path.write_text(whole)
    (out / "results.jsonl").write_text(before)
    r = cli("rescore", str(out))
    assert "rescored 1 episodes; 0 score(s) changed" in r.output and read_results(out)[0].functional_correct


def test_eval_without_llm_and_bad_arguments_prints_only_the_error(tmp_path, monkeypatch):
    """As `run`: the baseline announcement comes only once the arguments are known good, so a typo is one line."""
    for var in ("OPENAI_API_KEY", "TRACR_AGENT_LLM"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "ev"
    for args, needle in [
        (("--tasks", "nope"), "unknown task 'nope'"),
        (("--tasks", "gen:7:9:2"), "gen:7:9:2"),
        (("--tasks", "reverse", "--residual", "bogus"), "bogus"),
        (("--tasks", "reverse", "--trials", "0"), "--trials must be at least 1"),
        (("--tasks", "reverse", "--concurrency", "0"), "--concurrency must be at least 1"),
        (("--tasks", "reverse", "-c", "sideways"), "unknown condition"),  # -c as on run and tool
    ]:
        r = cli("eval", *args, "--out", str(out))
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output and "No LLM configured" not in r.output, (args, r.output)
        assert not (out / "results.jsonl").exists()


def test_a_piped_eval_prints_a_line_per_episode_and_json_an_object_per_episode(tmp_path):
    """Piped (stdout not a terminal, as under CliRunner): one plain line per finished episode, and a last
    line naming every file written; --json: an `episode` object per episode, a `cell` per report row, a
    `summary` — every line JSON with its schema_version."""
    out = tmp_path / "ev"
    r = cli("eval", "--tasks", "reverse", "--conditions", "full", "--llm", "baseline", "--trials", "2",
            "--out", str(out))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    finished = [line for line in lines if line.startswith("[")]
    assert len(finished) == 2 and {f.split("]")[0] for f in finished} == {"[1/2", "[2/2"}
    assert all(" reverse · full · baseline · trial " in f and ": correct · " in f for f in finished)
    assert lines[-1].startswith("2 episodes in") and all(
        str(out / name) in lines[-1] for name in ("report.md", "report.html", "view.html"))

    out2 = tmp_path / "ev2"
    r = cli("eval", "--tasks", "reverse", "--conditions", "full", "--llm", "baseline", "--trials", "2",
            "--llm-name", "open-world", "--out", str(out2), "--json")
    assert r.exit_code == 0, r.output
    objects = [json.loads(line) for line in r.stdout.splitlines()]  # every line of stdout is one JSON object
    assert all(o["schema_version"] == 1 for o in objects)
    assert [o["type"] for o in objects] == ["episode", "episode", "cell", "summary"]
    episode = objects[0]
    assert episode["task"] == "reverse" and episode["llm"] == "baseline" and episode["llm_name"] == "open-world"
    assert episode["functional_correct"] is True and Path(episode["transcript"]).is_absolute()
    assert Path(episode["transcript"]).is_file() and episode["score"]["functional"]["correct"]
    cell = objects[2]
    assert (cell["task"], cell["llm"], cell["llm_spec"], cell["n"]) == ("reverse", "open-world", "baseline", 2)
    assert cell["functional"] == {"k": 2, "n": 2, "rate": 1.0, "ci_low": 0.3424, "ci_high": 1.0}
    assert objects[-1]["episodes"] == 2 and objects[-1]["view_html"] == str((out2 / "view.html").resolve())
    # the name is recorded: the report and the viewer show it
    assert "| reverse | full | open-world | 2 |" in (out2 / "report.md").read_text()
    assert ">open-world<" in (out2 / "view.html").read_text()
