"""The suite's own environment: it passes when started under `nohup` or as a background job.

Such a start hands pytest SIGHUP (nohup) or SIGINT and SIGQUIT (a non-interactive shell's `&`) ignored,
and an ignored signal stays ignored across fork and exec: every CLI process the tests start would
ignore the lost terminal or the Ctrl-C they send it. conftest.py restores the defaults; this checks what
a child really starts with (run it as `nohup python -m pytest -q tests/e2e/test_suite_environment.py`)."""

from __future__ import annotations

import signal
import subprocess
import sys

SIGNALS = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM")


def test_cli_processes_started_by_tests_receive_terminal_signals():
    code = ("import signal; print(' '.join(str(int(signal.getsignal(getattr(signal, n)) is signal.SIG_IGN))"
            f" for n in {SIGNALS!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    ignored = [name for name, flag in zip(SIGNALS, out) if flag == "1"]
    assert not ignored, f"test children start with {ignored} ignored: the signal tests would hang"


def test_a_child_ignoring_sighup_is_the_exception_not_the_rule():
    # The opposite case stays possible: a test that wants a signal ignored sets it itself.
    code = "import signal, os; signal.signal(signal.SIGHUP, signal.SIG_IGN); os.kill(os.getpid(), signal.SIGHUP); print('alive')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "alive"
    killed = subprocess.run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGHUP)"])
    assert killed.returncode == -signal.SIGHUP
