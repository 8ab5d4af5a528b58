"""Driving the real CLI from tests (not a test module): terminals (pexpect) for interactive sessions
and the lab, plain commands run in this process, and reading the transcripts they write. Shared by
test_interactive.py, test_sessions.py and test_run_resume.py; the `home` fixture (a private
session store) is in conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

from tracr_agent.agent.records import transcript as tr

TIMEOUT = 240  # the first run_model of a process imports TransformerLens: slow on a cold machine
REVIEW = "[p]ause > "
QUESTION = "question (empty line or quit ends)> "
EXE = str(Path(sys.executable).with_name("tracr-agent"))


def _exe() -> str:
    return EXE if Path(EXE).exists() else "tracr-agent"


def spawn(env, *args):
    import pexpect  # the test extra installs it

    child = pexpect.spawn(_exe(), [str(a) for a in args], env=env, encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(50, 120))
    child.logfile_read = _Log()
    return child


def start_interactive(env, path, llm: str = "baseline-closed"):
    """`run reverse --interactive` in a terminal, up to the line naming its session: (child, session id)."""
    child = spawn(env, "run", "reverse", "--llm", llm, "--interactive", "--transcript", path)
    child.expect(r"session ([0-9a-f]{8})")
    return child, child.match.group(1)


class _Log:
    """Keeps everything the terminal showed (for assertions and failure messages)."""

    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def finish(child) -> int:
    import pexpect

    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def cli(env, *args, input: str | None = None) -> subprocess.CompletedProcess:
    """A command that needs no terminal and no signal, run by the real CLI in this process with `env` as
    its whole environment (a new process would pay ~7 s of imports for each) and `input` piped to its
    stdin. A crash shows as in a process: exit 1 and the traceback on stderr."""
    from typer.testing import CliRunner

    from tracr_agent.agent.cli import main

    consoles = (main.console, main.err_console)  # made at import, when a process reads COLUMNS
    widths = [c.width for c in consoles]
    for c in consoles:
        c.width = int(env.get("COLUMNS") or 80)
    try:
        r = CliRunner().invoke(main.app, [str(a) for a in args], input=input,
                               env={**{k: None for k in os.environ if k not in env}, **env})
    finally:
        for c, w in zip(consoles, widths):
            c.width = w
    stderr = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*r.exc_info))
    return subprocess.CompletedProcess(list(args), r.exit_code, r.stdout, stderr)


def approve_until_question(child) -> None:
    while child.expect_exact([REVIEW, QUESTION]) == 0:
        child.sendline("a")


def events_of(path):
    """The transcript's events; a torn or invalid line fails the test (a missing end does not)."""
    events, problem = tr.read_transcript(path)
    assert problem is None
    return events


def of_type(events, cls, **match):
    return [e for e in events if isinstance(e, cls) and all(getattr(e, k) == v for k, v in match.items())]


def report_over(tmp_path, records) -> tuple[str, str]:
    """(report.md, report.html) of `tracr-agent report` over an evaluation directory holding `records`,
    drawn as recorded: the tables are under test here, the rescoring from transcripts that `report` does
    first (report_records) is tested in tests/e2e/test_eval.py and test_integrity.py."""
    from unittest import mock

    from typer.testing import CliRunner

    from tracr_agent.agent.cli.main import app
    from tracr_agent.agent.evaluation import report
    from tracr_agent.agent.evaluation.batch import read_results

    d = tmp_path / "ev"
    d.mkdir()
    (d / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    with mock.patch.object(report, "report_records", lambda out_dir, *a, **k: read_results(out_dir, strict=True)):
        r = CliRunner().invoke(app, ["report", str(d)])
    assert r.exit_code == 0, r.output
    return (d / "report.md").read_text(), (d / "report.html").read_text()
