"""Running a submitted implementation safely: OS-level isolation, hard limits, a validated verdict.

`run_implementation(source, inputs)` executes Python source that defines
`f(tokens: list) -> list` in a fresh `python -I -S` subprocess
(worker.py) inside bubblewrap (`bwrap`): new user/PID/network/IPC/UTS
namespaces in which the worker is PID 1 and the only process bwrap starts
(`--as-pid-1`), every capability dropped (`--cap-drop ALL`, also when tracr-agent
runs as root), no /proc, an empty environment, a read-only filesystem that holds
only the Python installation and the system libraries, the worker and its request
as in-memory copies (no host path is bound in for them), a private tmpfs /tmp,
and a seccomp syscall filter (seccomp.py: no process creation, namespaces,
mounts, ptrace, keyrings, bpf, non-AF_UNIX sockets...); the worker sets rlimits
(CPU, address space, no file writes, few descriptors, no child processes) before
the submitted code runs, so every process that can exist in the sandbox carries
them. When the run ends the worker is killed, which makes the kernel kill
whatever else lives in its PID namespace (process.py): nothing outlives
the score and no zombie is left. It returns f's output for every input, or a
clear one-line reason why not:

    timeout after 20 s                   wall clock exceeded (the sandbox killed)
    CPU time limit (10 s)                the worker's CPU timer or RLIMIT_CPU reached
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

The verdict comes back on its own pipe (not stdout); the parent caps the bytes
it reads (`MAX_RESULT_BYTES`, `MAX_STDERR_BYTES`: beyond, the sandbox is killed)
and validates the reply strictly, in time linear in its size (reply.py:
one output per input, each a list of the input's length holding finite plain
JSON scalars). Every malformed reply becomes one error line, never an exception.
The reply holds only f's outputs (and which inputs failed, with a reason), never a
verdict: agreement is computed by the parent (score.py) against the subject's own
outputs, so whatever the submitted code writes on the channel can at worst be
wrong outputs for itself.

Where bubblewrap is missing or unusable, untrusted code is refused unless the
process allowed it explicitly (`allow_unsafe(True)`, the CLI's `--unsafe-sandbox`);
`isolation_line()` says which isolation is in force.

Inputs and outputs travel as JSON, which keeps None, bools, ints, floats and
strings apart (True stays True, 1 stays 1).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from tracr_agent.tools.sandbox import process as sandbox_process
from tracr_agent.tools.sandbox.reply import MAX_RESULT_BYTES, MAX_VALUES, input_values, parse_reply, visible
from tracr_agent.tools.sandbox.seccomp import filter_program

__all__ = ["SandboxResult", "run_implementation", "parse_reply", "allow_unsafe", "unsafe_allowed",
           "running_unsafe", "isolation_line", "MAX_RESULT_BYTES", "MAX_STDERR_BYTES", "MAX_VALUES"]

WORKER = Path(__file__).with_name("worker.py")
_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
BWRAP = "/usr/bin/bwrap"
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap)"
MAX_STDERR_BYTES = 256 * 1024
_IN_SANDBOX_WORKER = "/sandbox/worker.py"
_IN_SANDBOX_REQUEST = "/sandbox/request.json"
_unsafe = {"allowed": False}


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


# -- isolation ----------------------------------------------------------------------------

def allow_unsafe(flag: bool = True) -> None:
    """Lets this process score untrusted code without OS-level isolation (`--unsafe-sandbox`)."""
    _unsafe["allowed"] = bool(flag)


def unsafe_allowed() -> bool:
    return _unsafe["allowed"]


def running_unsafe() -> bool:
    """True when submitted code would run without OS-level isolation (allowed, and bwrap unusable)."""
    return unsafe_allowed() and _probe() is not None


def _python() -> str:
    # The base interpreter, not a venv's symlink: the venv is not inside the sandbox.
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _bwrap_argv(mounts: Sequence[str] = ()) -> list[str]:
    """bwrap options for a minimal read-only world plus `mounts` (more bwrap mount options).

    The worker is the namespace's PID 1 and no capability survives, whoever runs tracr-agent.
    No /proc: the worker needs none, and without it nothing in the sandbox can inspect another
    process or read mount sources, command lines or environments."""
    argv = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--as-pid-1",
            "--cap-drop", "ALL", "--hostname", "sandbox", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp"]
    for name, value in _ENV.items():
        argv += ["--setenv", name, value]
    mounted = set()
    for d in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32"):
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
            mounted.add(d)
    prefix = os.path.realpath(sys.base_prefix)
    if not any(prefix == m or prefix.startswith(m + "/") for m in mounted):
        argv += ["--ro-bind", prefix, prefix]
    # The interpreter's site-packages are not needed (-S) and may hold anything: hide them.
    hidden = set()
    for key in ("purelib", "platlib"):
        sp = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix}).get(key)
        if sp and os.path.isdir(sp) and os.path.realpath(sp) not in hidden:
            hidden.add(os.path.realpath(sp))
            argv += ["--tmpfs", os.path.realpath(sp)]
    return argv + list(mounts) + ["--remount-ro", "/"]


def _run_probe(argv: list[str], pass_fds=()) -> Optional[str]:
    """None when `argv` (a bwrap command running `python -c pass`) succeeds, else why not."""
    try:
        proc = subprocess.run(argv + ["--", _python(), "-I", "-S", "-c", "pass"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=20, pass_fds=pass_fds)
    except (OSError, subprocess.SubprocessError) as e:
        return f"bwrap cannot start: {e}"
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap failed: {tail[-1][:200] if tail else f'exit status {proc.returncode}'}"
    return None


@functools.lru_cache(maxsize=1)
def _probe() -> Optional[str]:
    """None when bubblewrap works here, else why not (tried once per process)."""
    if not os.path.exists(BWRAP):
        return f"{BWRAP} not found"
    return _run_probe(_bwrap_argv())


# A user namespace of the sandbox's own in which no further one can be made (bwrap >= 0.8): the
# kernel refuses nested namespaces even where the syscall filter is unavailable.
NO_NESTED_USERNS = ["--unshare-user", "--disable-userns"]


@functools.lru_cache(maxsize=1)
def _userns_locked() -> bool:
    """True when bwrap here can forbid user namespaces inside the sandbox (tried once per process)."""
    return _probe() is None and _run_probe(_bwrap_argv() + NO_NESTED_USERNS) is None


def _hardening() -> list[str]:
    return list(NO_NESTED_USERNS) if _userns_locked() else []


def _pipe_holding(data: bytes) -> int:
    """The read end of a pipe that holds `data` and then EOF (for bwrap's --seccomp FD)."""
    rfd, wfd = os.pipe()
    try:
        os.write(wfd, data)  # a BPF program is a few hundred bytes: far below the pipe's buffer
    finally:
        os.close(wfd)
    return rfd


def _seccomp_fd() -> Optional[int]:
    """A pipe's read end holding the BPF program for `bwrap --seccomp`, or None without one."""
    program = filter_program()[0]
    return None if program is None else _pipe_holding(program)


@functools.lru_cache(maxsize=1)
def _seccomp_problem() -> Optional[str]:
    """None when bwrap applies the syscall filter here, else why not (tried once per process)."""
    program, why = filter_program()
    if program is None:
        return why
    fd = _pipe_holding(program)
    try:
        problem = _run_probe(_bwrap_argv() + _hardening() + ["--seccomp", str(fd)], pass_fds=(fd,))
    finally:
        os.close(fd)
    return None if problem is None else f"bwrap cannot apply it: {problem}"


def isolation_line() -> str:
    """One line saying which isolation scoring runs under (the CLI prints it once per run/eval)."""
    problem = _probe()
    if problem is None:
        filtered = _seccomp_problem()
        syscalls = filter_program()[1] if filtered is None else f"NO syscall filter ({filtered})"
        userns = ", no nested user namespaces" if _userns_locked() else ""
        return ("sandbox: bubblewrap (no network, own PID namespace with the worker as its init, no capabilities, "
                "no /proc, empty environment, read-only filesystem with only the Python installation, private "
                f"/tmp{userns}) + {syscalls} + rlimits")
    if unsafe_allowed():
        return f"sandbox: UNSAFE (--unsafe-sandbox): submitted code runs with only rlimits and an audit hook ({problem})"
    return f"sandbox: unavailable ({problem}); scoring of submitted code is refused: {INSTALL_HINT} or pass --unsafe-sandbox"


# -- running ------------------------------------------------------------------------------

def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return visible(lines[-1][:2000])[:300] if lines else ""


def _crash_reason(rc: int, elapsed: float, err: bytes, cpu_seconds: float, memory_mb: float) -> str:
    if rc < 0 or rc > 128:  # bwrap reports its child's death by signal N as 128 + N
        sig = -rc if rc < 0 else rc - 128
        if sig == signal.SIGXCPU:
            return f"CPU time limit ({cpu_seconds:g} s)"
        if sig == signal.SIGKILL:
            # RLIMIT_CPU's hard limit ends in SIGKILL; otherwise most likely the OOM killer.
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


def _memfd(name: str, data: bytes) -> int:
    """An in-memory file holding `data`, positioned at its start (for bwrap's --ro-bind-data)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _run_isolated(payload: bytes, caps: dict, deadline: float) -> sandbox_process.Run:
    """The worker in bubblewrap; its source and request go in as in-memory copies."""
    fds = []
    try:
        fds.append(_memfd("worker", WORKER.read_bytes()))
        fds.append(_memfd("request", payload))
        mounts = ["--ro-bind-data", str(fds[0]), _IN_SANDBOX_WORKER, "--ro-bind-data", str(fds[1]), _IN_SANDBOX_REQUEST]
        options = list(_hardening())
        sfd = _seccomp_fd() if _seccomp_problem() is None else None
        if sfd is not None:
            fds.append(sfd)
            options += ["--seccomp", str(sfd)]

        def argv(info_fd, result_fd):
            return _bwrap_argv(mounts) + options + ["--info-fd", str(info_fd), "--", _python(), "-I", "-S",
                                                    _IN_SANDBOX_WORKER, _IN_SANDBOX_REQUEST, str(result_fd)]

        return sandbox_process.run(argv, caps=caps, deadline=deadline, env={}, cwd="/", pass_fds=tuple(fds),
                                   info=True)
    finally:
        for fd in fds:
            os.close(fd)


def _run_unsafe(payload: bytes, caps: dict, deadline: float) -> sandbox_process.Run:
    """The worker as a plain subprocess (--unsafe-sandbox where bubblewrap is unusable)."""
    with tempfile.TemporaryDirectory(prefix="tracr-sandbox-") as tmp:
        request = Path(tmp) / "request.json"
        request.write_bytes(payload)
        return sandbox_process.run(
            lambda _info, result_fd: [sys.executable, "-I", "-S", str(WORKER), str(request), str(result_fd)],
            caps=caps, deadline=deadline, env=_ENV, cwd=tmp)


def run_implementation(source: str, inputs: Sequence[Sequence], *, cpu_seconds: float = 10,
                       memory_mb: float = 512, wall_seconds: float = 20) -> SandboxResult:
    """Evaluates the `f` defined by `source` on every input in one sandboxed subprocess."""
    start = time.monotonic()

    def done(outputs, error, failed=()):
        return SandboxResult(outputs, error, list(failed), time.monotonic() - start)

    if not isinstance(source, str) or not source.strip():
        return done(None, "no implementation given")
    try:
        inputs = [list(x) for x in inputs]
        payload = json.dumps({"source": source, "inputs": inputs, "cpu_seconds": cpu_seconds,
                              "memory_mb": memory_mb}, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        return done(None, f"inputs cannot be sent to the sandbox: {e}")
    if input_values(inputs) > MAX_VALUES:
        return done(None, f"too many inputs for one sandboxed run: {input_values(inputs):,} values "
                          f"(tokens plus one per input; at most {MAX_VALUES:,})")
    problem = _probe()
    if problem is not None and not unsafe_allowed():
        return done(None, f"refused to run untrusted code without OS-level isolation ({problem}): "
                          f"{INSTALL_HINT}, or pass --unsafe-sandbox to accept the risk")

    # The worker writes its verdict to a pipe of its own, whose number it gets on argv; stdout is
    # discarded, so printing cannot reach the parent.
    caps = {"res": MAX_RESULT_BYTES, "stderr": MAX_STDERR_BYTES}
    try:
        run = (_run_isolated if problem is None else _run_unsafe)(payload, caps, start + wall_seconds)
    except OSError as e:
        return done(None, f"cannot start the sandbox: {e}")
    elapsed = time.monotonic() - start

    if run.fault == "timeout":
        return done(None, f"timeout after {wall_seconds:g} s")
    if run.fault:
        return done(None, run.fault)
    if not run.out.strip():
        return done(None, _crash_reason(run.returncode, elapsed, run.err, cpu_seconds, memory_mb))
    try:
        outputs, error, failed = parse_reply(run.out, inputs)
    except ValueError as e:
        return done(None, f"the sandbox sent a malformed result: {e}")
    return done(outputs, error, failed)
