"""The implementation sandbox, with real subprocesses: limits, blocks, and exact outputs.

Every sandboxed run of these tests (and of test_sandbox_hostile.py) is checked as it returns
(fixture `leaves_nothing`): no process is left in its PID namespace and the scoring process has no
new child, zombie or alive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tracr_agent.tools.sandbox import process as sandbox_process
from tracr_agent.tools.sandbox.runner import WORKER, run_implementation

INPUTS = [[1, 2], [3], ["a", True, None]]


def run(source: str, inputs=INPUTS, **kw):
    return run_implementation(textwrap.dedent(source), inputs, **kw)


def _stat(pid: int) -> tuple[str, int]:
    """(state, ppid) of a process, from /proc (raises OSError when it is gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def sandbox_children() -> list[int]:
    """Worker processes descended from this test process (through bwrap) that are still alive."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            state, ppid = _stat(int(d.name))
            if not (WORKER.name.encode() in cmd or b"/sandbox/worker.py" in cmd) or state == "Z":
                continue
            while ppid > 1 and ppid != os.getpid():
                ppid = _stat(ppid)[1]
        except OSError:
            continue
        if ppid == os.getpid():
            out.append(int(d.name))
    return out


def _children() -> set[tuple[int, str]]:
    """(PID, start time) of every child of this process, zombies included."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                out.add((int(d.name), fields[19]))
    return out


def in_pid_namespace(inode: int) -> list[int]:
    """Every process, anywhere on the host, that lives in the PID namespace `inode`."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.readlink(d / "ns" / "pid") == f"pid:[{inode}]":
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@pytest.fixture(autouse=True)
def leaves_nothing(monkeypatch):
    """Checks every sandboxed run as it returns: nothing left in its PID namespace (read from bwrap's
    report, and checked against the worker's own /proc entry), no new child of this process.

    Yields the workers seen (one per bubblewrap run)."""
    workers = []
    real_worker_of, real_run = sandbox_process.worker_of, sandbox_process.run

    def worker_of(info, bwrap_pid):
        worker = real_worker_of(info, bwrap_pid)
        assert worker is not None and worker.pidfd is not None, f"no usable worker report: {info!r}"
        try:
            assert os.readlink(f"/proc/{worker.pid}/ns/pid") == f"pid:[{worker.pid_namespace}]"
        except FileNotFoundError:
            pass  # already exited (a zombie has no namespace links)
        workers.append(worker)
        return worker

    def run(*args, **kw):
        before, seen = _children(), len(workers)
        result = real_run(*args, **kw)
        if kw.get("info"):
            assert len(workers) == seen + 1, "bubblewrap ran without reporting its worker"
            assert in_pid_namespace(workers[-1].pid_namespace) == [], "processes outlived the sandbox"
        assert _children() - before == set(), "the sandbox left a child of the scoring process"
        return result

    monkeypatch.setattr(sandbox_process, "worker_of", worker_of)
    monkeypatch.setattr(sandbox_process, "run", run)
    yield workers


# -- correct code -------------------------------------------------------------------------

def test_correct_implementation_returns_exact_outputs():
    res = run("""
        def f(tokens):
            return [None, True, False, 0, 1, 2.5, "x", "1"][: len(tokens)]
    """, [[0] * 8, [1, 2], ["a"]])
    assert res.error is None and res.ok and res.failed == []
    assert res.outputs == [[None, True, False, 0, 1, 2.5, "x", "1"], [None, True], [None]]
    first = res.outputs[0]
    assert first[0] is None and first[1] is True and first[2] is False
    assert type(first[3]) is int and type(first[4]) is int and type(first[5]) is float
    assert type(first[6]) is str and first[7] == "1"


def test_inputs_keep_their_types():
    res = run("""
        def f(tokens):
            return [type(t).__name__ for t in tokens]
    """, [[1, True, "1", None, 1.5]])
    assert res.outputs == [["int", "bool", "str", "NoneType", "float"]]


def test_allowed_modules_and_value_conversion():
    res = run("""
        from __future__ import annotations
        import math, itertools, functools, statistics, re, string, operator, heapq, bisect, copy
        from collections import Counter, defaultdict, namedtuple
        from fractions import Fraction
        from decimal import Decimal
        from typing import List
        P = namedtuple("P", "a b")

        def f(tokens: List) -> list:
            c = Counter(tokens)
            return [Fraction(c[t], len(tokens)) if i % 2 == 0 else Decimal("0.5") for i, t in enumerate(tokens)]
    """, [[1, 1, 2]])
    assert res.error is None
    assert res.outputs == [[2 / 3, 0.5, 1 / 3]]


def test_prints_and_main_guard_do_not_disturb_the_result():
    res = run("""
        print("hello from the implementation")
        def f(tokens):
            print(tokens, "\\n{\\"outputs\\": null}")
            return list(tokens)
        if __name__ == "__main__":
            raise SystemExit("test code must not run")
    """)
    assert res.error is None and res.outputs == [[1, 2], [3], ["a", True, None]]


def test_generators_and_tuples_become_lists():
    res = run("def f(t):\n    return (x for x in t) if len(t) > 1 else tuple(t)")
    assert res.outputs == [[1, 2], [3], ["a", True, None]]


def test_catchable_import_fallback_is_fine():
    res = run("""
        try:
            import numpy as np
        except ImportError:
            np = None
        def f(t):
            return [np is None] * len(t)
    """)
    assert res.error is None and res.outputs == [[True, True], [True], [True, True, True]]


def test_thousands_of_inputs_are_fast():
    inputs = [[i % 7, (i // 7) % 5, i % 3, i % 2] for i in range(5000)]
    t0 = time.monotonic()
    res = run("def f(t):\n    return sorted(t)", inputs)
    elapsed = time.monotonic() - t0
    assert res.error is None and res.outputs == [sorted(x) for x in inputs]
    assert elapsed < 5, f"5000 inputs took {elapsed:.2f} s"


def test_the_largest_input_set_a_run_takes_is_answered_and_one_more_is_refused():
    inputs = [[i % 5, "x", None] * 6 + [True] for i in range(10_000)]  # 19 tokens each: 200,000 values
    res = run("def f(t):\n    return t[::-1]", inputs, wall_seconds=60)
    assert res.error is None and res.outputs == [x[::-1] for x in inputs]
    res = run("def f(t):\n    return t", inputs + [[1]])
    assert res.outputs is None and res.error == ("too many inputs for one sandboxed run: 200,002 values "
                                                 "(tokens plus one per input; at most 200,000)")


# -- errors from the code itself -----------------------------------------------------------

def test_exception_on_one_input_is_reported_with_that_input():
    res = run("""
        def f(tokens):
            return [1 / (len(tokens) - 2) for _ in tokens]
    """)
    assert res.error.startswith("f raised ZeroDivisionError: division by zero on input [1, 2]")
    assert "(line 3)" in res.error
    assert res.failed == [0]
    assert res.outputs[0] is None and res.outputs[1] == [-1.0] and res.outputs[2] == [1.0, 1.0, 1.0]


def test_failures_on_many_inputs_are_counted():
    res = run("def f(t):\n    raise ValueError('nope')")
    assert res.error == "f raised ValueError: nope on input [1, 2] (line 2); failed on 3 of 3 inputs"
    assert res.failed == [0, 1, 2]


def test_wrong_output_length():
    res = run("def f(t):\n    return t[:-1] if len(t) == 3 else t")
    assert res.error == "output for input ['a', True, None] has length 2, expected 3"
    assert res.failed == [2] and res.outputs[:2] == [[1, 2], [3]]


def test_wrong_output_type():
    res = run("def f(t):\n    return 'ab'")
    assert res.error.startswith("f returned str, expected a list, on input [1, 2]")
    res = run("def f(t):\n    return [{1}] * len(t)")
    assert "set" in res.error and res.failed == [0, 1, 2]


def test_missing_f_and_syntax_error_and_module_level_error():
    assert run("g = 1").error == "implementation does not define f"
    assert run("f = 3").error == "implementation defines f as a int, not a function"
    assert run("def f(t) return t").error.startswith("implementation has a syntax error")
    res = run("x = 1 / 0\ndef f(t): return t")
    assert res.outputs is None
    assert res.error == "running the implementation raised ZeroDivisionError: division by zero (line 1)"


def test_error_lines_show_control_characters_instead_of_obeying_them():
    # An exception message that would retitle the window, erase the line and fake a verdict.
    res = run("def f(t):\n    raise ValueError('\\x1b]0;pwned\\x07\\x1b[2K implementation correct \\u202e\\ud800')")
    assert res.error.startswith("f raised ValueError: ␛]0;pwned␇␛[2K implementation correct \\u202e\\ud800 on input [1, 2]")
    assert res.error.isprintable(), res.error


def test_empty_source():
    assert run_implementation("", INPUTS).error == "no implementation given"
    assert run_implementation(None, INPUTS).error == "no implementation given"


# -- resource limits ------------------------------------------------------------------------

@pytest.mark.slow  # 10 s of CPU by design (the default limit): the fast tier keeps the explicit-limit tests below
def test_infinite_loop_hits_a_limit_with_default_limits():
    t0 = time.monotonic()
    res = run("def f(t):\n    while True:\n        pass")
    elapsed = time.monotonic() - t0
    assert res.outputs is None
    assert res.error.startswith(("CPU time limit", "timeout after"))
    assert elapsed < 25, f"took {elapsed:.1f} s"
    assert sandbox_children() == []


def test_wall_clock_timeout_kills_the_process():
    t0 = time.monotonic()
    res = run("def f(t):\n    while True:\n        pass", cpu_seconds=60, wall_seconds=1.5)
    assert res.error == "timeout after 1.5 s"
    assert time.monotonic() - t0 < 10
    assert sandbox_children() == []


def test_cpu_limit_even_when_the_code_swallows_it():
    res = run("""
        def f(t):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
    """, cpu_seconds=1, wall_seconds=15)
    assert res.error == "CPU time limit (1 s)"


def test_memory_bomb():
    res = run("def f(t):\n    x = [0] * 10**9\n    return t")
    assert res.error == "memory limit (512 MB)" and res.outputs is None


def test_gradual_memory_growth():
    res = run("""
        def f(t):
            hoard = []
            while True:
                hoard.append(bytearray(10**6))
    """, memory_mb=200, wall_seconds=20)
    assert res.error == "memory limit (200 MB)"


# -- blocked operations ---------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "import os\ndef f(t): return t",
    "os = __import__('os')\ndef f(t): return t",
    "from os import path\ndef f(t): return t",
    "import os.path\ndef f(t): return t",
    "def f(t):\n    import os\n    return t",
])
def test_import_os_is_blocked(source):
    res = run(source)
    assert res.outputs is None
    assert res.error.startswith("blocked import: os")


@pytest.mark.parametrize("module", ["sys", "subprocess", "socket", "shutil", "pathlib", "ctypes",
                                    "multiprocessing", "threading", "signal", "importlib", "builtins"])
def test_other_dangerous_imports_are_blocked(module):
    res = run(f"import {module}\ndef f(t): return t")
    assert res.error.startswith(f"blocked import: {module}")


def test_network_attempt_is_blocked(local_tcp_server):
    port = local_tcp_server.port
    res = run(f"""
        import socket
        def f(t):
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            return t
    """)
    assert res.outputs is None and res.error.startswith("blocked")
    # The same through an escape hatch past the import allowlist: the audit hook stops it.
    res = run(f"""
        import collections
        real_import = collections._sys.modules["builtins"].__import__
        def f(t):
            sock = real_import("socket")
            sock.create_connection(("127.0.0.1", {port}), timeout=2)
            return t
    """)
    assert res.outputs is None and res.error.startswith("blocked")
    assert local_tcp_server.connections() == 0  # nobody ever connected


def test_audit_hook_blocks_a_connection_when_socket_is_already_loaded(local_tcp_server):
    """The audit hook's network rule on its own, in a fresh interpreter with socket loaded."""
    port = local_tcp_server.port
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(WORKER.parent)!r})
        import socket
        import worker as w
        socket.getaddrinfo("127.0.0.1", {port})  # lazy imports happen before the hook is armed
        sys.addaudithook(w._audit_hook)
        w._state["armed"] = True
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print("CONNECTED")
        except w.SandboxViolation as e:
            print("BLOCKED", e)
    """)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "BLOCKED blocked: network access", out.stderr
    assert local_tcp_server.connections() == 0


def test_file_write_is_blocked(tmp_path):
    target = tmp_path / "x"
    for source in (
        f"open({str(target)!r}, 'w').write('hi')\ndef f(t): return t",
        f"def f(t):\n    with open({str(target)!r}, 'a') as fh:\n        fh.write('hi')\n    return t",
        # swallowing the exception does not help: the attempt is recorded
        f"def f(t):\n    try:\n        open({str(target)!r}, 'x')\n    except BaseException:\n        pass\n    return t",
    ):
        res = run(source)
        assert res.outputs is None and res.error == "blocked: file write"
    assert not target.exists()
    res = run("open('/tmp/x', 'w')\ndef f(t): return t")
    assert res.error == "blocked: file write"


def test_file_read_and_process_creation_are_blocked(tmp_path):
    marker = tmp_path / "ran"
    res = run("open('/etc/hostname').read()\ndef f(t): return t")
    assert res.error == "blocked: file access"
    res = run(f"""
        import collections
        os = collections._sys.modules["os"]
        def f(t):
            os.system("touch {marker}")
            return t
    """)
    assert res.error == "blocked: process control (os.system)"
    res = run("import collections\ncollections._sys.modules['os'].fork()\ndef f(t): return t")
    assert res.error == "blocked: process control (os.fork)"
    assert not marker.exists()


def test_classification_of_audit_events():
    from tracr_agent.tools.sandbox import worker as w

    assert w._classify("socket.connect", (None, ("127.0.0.1", 80))) == "blocked: network access"
    assert w._classify("socket.getaddrinfo", ("example.com", 80, 0, 0, 0)) == "blocked: network access"
    assert w._classify("subprocess.Popen", ("ls", ["ls"], None, None)) == "blocked: process control (subprocess.Popen)"
    assert w._classify("open", ("/tmp/x", "w", 0)) == "blocked: file write"
    assert w._classify("open", ("/tmp/x", None, os.O_WRONLY | os.O_CREAT)) == "blocked: file write"
    assert w._classify("open", ("/tmp/x", "r", 0)) == "blocked: file access"
    assert w._classify("shutil.rmtree", ("/tmp/x",)) == "blocked: file write"
    assert w._classify("import", ("ctypes", None, [], [], [])) == "blocked import: ctypes"
    assert w._classify("import", ("locale", None, [], [], [])) is None
    assert w._classify("compile", (b"", "<x>")) is None
