"""Running a submitted implementation safely: one subprocess, hard limits, a one-line verdict.

`run_implementation(source, inputs)` executes Python source that defines
`f(tokens: list) -> list` in a fresh `python -I -S` subprocess
(sandbox_worker.py) and returns f's output for every input, or a clear
one-line reason why not:

    timeout after 20 s                   wall clock exceeded (process group killed)
    CPU time limit (10 s)                RLIMIT_CPU reached
    memory limit (512 MB)                RLIMIT_AS reached
    blocked import: os (allowed ...)     import outside the allowlist
    blocked: network access              socket & co (audit hook)
    blocked: file write                  open(..., "w"), os.remove, shutil... (audit hook)
    implementation does not define f
    f raised ZeroDivisionError: division by zero on input [1, 2] (line 3)
    output for input ['a', 'b', 'c'] has length 2, expected 3

Fatal errors (the first six kinds) come back with `outputs=None`. Errors on
single inputs do not stop the run: those inputs are listed in `failed` (their
outputs are None) and `error` names the first one, so a scorer can still
count agreement on the rest.

Inputs and outputs travel as JSON, which keeps None, bools, ints, floats and
strings apart (True stays True, 1 stays 1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

WORKER = Path(__file__).with_name("sandbox_worker.py")
_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


@dataclass
class SandboxResult:
    outputs: Optional[list]
    """f's output per input (None for inputs in `failed`), or None after a fatal error."""
    error: Optional[str]
    """None when f ran cleanly on every input; else a one-line reason."""
    failed: list[int] = field(default_factory=list)
    """Indices of inputs on which f raised or returned something unusable."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.outputs is not None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _crash_reason(rc: int, elapsed: float, err: bytes, cpu_seconds: float, memory_mb: float) -> str:
    if rc < 0:
        sig = -rc
        if sig == signal.SIGXCPU:
            return f"CPU time limit ({cpu_seconds:g} s)"
        if sig == signal.SIGKILL:
            # The hard CPU limit (soft + 1 s) ends in SIGKILL; otherwise most likely the OOM killer.
            if elapsed >= cpu_seconds:
                return f"CPU time limit ({cpu_seconds:g} s)"
            return f"memory limit ({memory_mb:g} MB): the process was killed"
        if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
            name = signal.Signals(sig).name
            return f"the implementation crashed the interpreter ({name}; too deep a recursion or the memory limit ({memory_mb:g} MB))"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"sandbox process killed by {name}"
    tail = _last_line(err)
    if "MemoryError" in tail:
        return f"memory limit ({memory_mb:g} MB)"
    return f"sandbox process exited with status {rc}" + (f": {tail}" if tail else " without a result")


def run_implementation(source: str, inputs: Sequence[Sequence], *, cpu_seconds: float = 10,
                       memory_mb: float = 512, wall_seconds: float = 20) -> SandboxResult:
    """Evaluates the `f` defined by `source` on every input in one sandboxed subprocess."""
    start = time.monotonic()

    def done(outputs, error, failed=()):
        return SandboxResult(outputs, error, list(failed), time.monotonic() - start)

    if not isinstance(source, str) or not source.strip():
        return done(None, "no implementation given")
    try:
        payload = json.dumps({"source": source, "inputs": [list(x) for x in inputs],
                              "cpu_seconds": cpu_seconds, "memory_mb": memory_mb}).encode("utf-8")
    except (TypeError, ValueError) as e:
        return done(None, f"inputs cannot be sent to the sandbox: {e}")

    with tempfile.TemporaryDirectory(prefix="tracr-sandbox-") as cwd:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(WORKER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd, env=_ENV, start_new_session=True, close_fds=True,
        )
        timed_out = False
        try:
            out, err = proc.communicate(payload, timeout=wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            out, err = proc.communicate()
        finally:
            # Whatever happened (including KeyboardInterrupt here), leave nothing running.
            _kill_group(proc)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - start

    if timed_out:
        return done(None, f"timeout after {wall_seconds:g} s")
    line = out.rstrip().rpartition(b"\n")[2].strip() if out else b""
    result = None
    if line.startswith(b"{"):
        try:
            result = json.loads(line)
        except ValueError:
            result = None
    if not isinstance(result, dict) or "error" not in result:
        return done(None, _crash_reason(proc.returncode, elapsed, err, cpu_seconds, memory_mb))
    return done(result.get("outputs"), result.get("error"), result.get("failed") or ())
