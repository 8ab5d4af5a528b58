"""Running a submitted implementation safely: OS-level isolation, hard limits, a validated verdict.

`run_implementation(source, inputs)` executes Python source that defines
`f(tokens: list) -> list` in a fresh `python -I -S` subprocess
(sandbox_worker.py) inside bubblewrap (`bwrap`): new user/PID/network/IPC/UTS
namespaces, its own /proc, an empty environment, a read-only filesystem that
holds only the Python installation, the system libraries and the worker file,
a private tmpfs /tmp, and a seccomp syscall filter (seccomp.py: no process
creation, namespaces, mounts, ptrace, keyrings, bpf, non-AF_UNIX sockets...);
the worker adds rlimits (CPU, address space, no file writes, few descriptors,
no child processes) before the submitted code runs. It returns f's output for every input, or a clear
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

The verdict comes back on its own pipe (not stdout); the parent caps the bytes
it reads (`MAX_RESULT_BYTES`, `MAX_STDERR_BYTES`: beyond, the sandbox is killed),
checks the JSON's nesting depth before parsing and validates the reply strictly
(one output per input, each a list of the input's length holding finite plain
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
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from tracr_agent.agent.scoring.seccomp import filter_program

WORKER = Path(__file__).with_name("sandbox_worker.py")
_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
BWRAP = "/usr/bin/bwrap"
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap)"
MAX_RESULT_BYTES = 8 * 1024 * 1024
MAX_STDERR_BYTES = 256 * 1024
MAX_DEPTH = 4  # {"outputs": [[scalar, ...], ...]} is 3 deep
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


def _bwrap_argv(binds: Sequence[tuple[str, str]]) -> list[str]:
    """bwrap options for a minimal read-only world plus `binds` (host path, sandbox path)."""
    argv = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp"]
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
    for key in ("purelib", "platlib"):
        sp = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix}).get(key)
        if sp and os.path.isdir(sp):
            argv += ["--tmpfs", os.path.realpath(sp)]
    for host, inside in binds:
        argv += ["--ro-bind", host, inside]
    return argv + ["--remount-ro", "/"]


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
    return _run_probe(_bwrap_argv(()))


# A user namespace of the sandbox's own in which no further one can be made (bwrap >= 0.8): the
# kernel refuses nested namespaces even where the syscall filter is unavailable.
NO_NESTED_USERNS = ["--unshare-user", "--disable-userns"]


@functools.lru_cache(maxsize=1)
def _userns_locked() -> bool:
    """True when bwrap here can forbid user namespaces inside the sandbox (tried once per process)."""
    return _probe() is None and _run_probe(_bwrap_argv(()) + NO_NESTED_USERNS) is None


def _hardening() -> list[str]:
    return NO_NESTED_USERNS if _userns_locked() else []


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
        problem = _run_probe(_bwrap_argv(()) + _hardening() + ["--seccomp", str(fd)], pass_fds=(fd,))
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
        return ("sandbox: bubblewrap (no network, own PID namespace and /proc, empty environment, read-only "
                f"filesystem with only the Python installation, private /tmp{userns}) + {syscalls} + rlimits")
    if unsafe_allowed():
        return f"sandbox: UNSAFE (--unsafe-sandbox): submitted code runs with only rlimits and an audit hook ({problem})"
    return f"sandbox: unavailable ({problem}); scoring of submitted code is refused: {INSTALL_HINT} or pass --unsafe-sandbox"


# -- reply validation ---------------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    depth = 0
    for c in _STRING.sub(b'""', data).translate(None, _BRACKETS):
        depth += 1 if c in (0x5B, 0x7B) else -1
        if depth > limit:
            return True
    return False


def _bad_scalar(v) -> Optional[str]:
    if v is None or type(v) in (bool, int, str):
        return None
    if type(v) is float:
        return None if math.isfinite(v) else f"a non-finite number ({v})"
    return f"a {type(v).__name__}"


def parse_reply(data: bytes, inputs: Sequence[Sequence]):
    """The worker's reply -> (outputs, error, failed), or raises ValueError with a one-line reason."""
    if not data.strip():
        raise ValueError("no result")
    if _too_deep(data):
        raise ValueError("result nested too deeply")
    try:
        reply = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"result is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(reply, dict) or set(reply) != {"outputs", "failed", "error"}:
        raise ValueError("result has the wrong shape")
    outputs, failed, error = reply["outputs"], reply["failed"], reply["error"]
    if error is not None and not isinstance(error, str):
        raise ValueError("result error is not a string")
    error = None if error is None else " ".join(error.split())[:300]
    if not isinstance(failed, list) or not all(type(i) is int and 0 <= i < len(inputs) for i in failed) \
            or len(set(failed)) != len(failed):
        raise ValueError("result failed-list is not a list of input indices")
    if failed and error is None:
        raise ValueError("result lists failed inputs without a reason")  # the worker always names one
    if outputs is None:
        if error is None:
            raise ValueError("result has neither outputs nor an error")
        return None, error, []
    if not isinstance(outputs, list) or len(outputs) != len(inputs):
        raise ValueError(f"result does not hold exactly one output per input ({len(inputs)})")
    failed_set, extra = set(failed), None
    for i, (x, out) in enumerate(zip(inputs, outputs)):
        if i in failed_set:
            if out is not None:
                raise ValueError("result has an output for a failed input")
            continue
        if not isinstance(out, list) or len(out) != len(x):
            raise ValueError(f"result output {i} is not a list of length {len(x)}")
        bad = next((b for b in map(_bad_scalar, out) if b), None)
        if bad and not bad.startswith("a non-finite"):
            # The worker only ever sends plain scalars: anything else is not its reply.
            raise ValueError(f"result output {i} holds {bad}")
        if bad:
            # A wrong value from f, not a broken channel: that input fails, like an exception.
            outputs[i] = None
            failed.append(i)
            extra = extra or f"f returned {bad} on input {list(x)!r}"
    if extra:
        failed.sort()
        error = error or extra
    return outputs, error, failed


# -- running ------------------------------------------------------------------------------

def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _crash_reason(rc: int, elapsed: float, err: bytes, cpu_seconds: float, memory_mb: float) -> str:
    if rc < 0 or rc > 128:  # bwrap reports its child's death by signal N as 128 + N
        sig = -rc if rc < 0 else rc - 128
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


def _collect(streams: dict[str, int], caps: dict[str, int], deadline: float) -> tuple[dict, Optional[str]]:
    """Reads every stream (name -> fd) until all close, the deadline passes or one exceeds its cap."""
    bufs = {name: bytearray() for name in streams}
    sel = selectors.DefaultSelector()
    for name, fd in streams.items():
        sel.register(fd, selectors.EVENT_READ, name)
    problem = None
    try:
        while sel.get_map() and problem is None:
            left = deadline - time.monotonic()
            if left <= 0:
                problem = "timeout"
                break
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                bufs[key.data] += chunk
                if len(bufs[key.data]) > caps[key.data]:
                    what = "result" if key.data == "res" else f"output on {key.data}"
                    problem = f"output flood: the implementation's {what} exceeded {caps[key.data] // 1024} KB"
                    break
    finally:
        sel.close()
    return {name: bytes(buf) for name, buf in bufs.items()}, problem


def _ns_init_pid(info: bytes) -> Optional[int]:
    """The host PID of the sandbox's PID-namespace init, from bwrap's --info-fd JSON."""
    try:
        pid = json.loads(info or b"{}").get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if type(pid) is int and pid > 1 else None


def _gone_or_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _stop(proc: subprocess.Popen, ns_init: Optional[int]) -> None:
    """Kills the sandbox and waits (up to ~1 s) until every process in it is dead.

    SIGKILL to the PID namespace's init makes the kernel kill every process in the namespace,
    however daemonised, before init itself becomes a zombie. It is sent only while bwrap (its
    parent, which reaps it) is still running, so the PID cannot have been reused.
    """
    if ns_init is not None and proc.poll() is None:
        try:
            os.kill(ns_init, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _kill_group(proc)
    try:
        proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    until = time.monotonic() + 1
    while ns_init is not None and not _gone_or_zombie(ns_init) and time.monotonic() < until:
        time.sleep(0.01)


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
    problem = _probe()
    if problem is not None and not unsafe_allowed():
        return done(None, f"refused to run untrusted code without OS-level isolation ({problem}): "
                          f"{INSTALL_HINT}, or pass --unsafe-sandbox to accept the risk")

    with tempfile.TemporaryDirectory(prefix="tracr-sandbox-") as tmp:
        request = Path(tmp) / "request.json"
        request.write_bytes(payload)
        rfd, wfd = os.pipe()
        ifd_r, ifd_w = os.pipe()
        sfd = _seccomp_fd() if problem is None and _seccomp_problem() is None else None
        # The worker writes its verdict to the pipe's write end, whose number it gets on argv;
        # stdout is discarded, so printing cannot reach the parent. bwrap reports the PID of the
        # namespace's init on the info pipe (used to kill the whole namespace).
        if problem is None:
            argv = _bwrap_argv([(str(WORKER), _IN_SANDBOX_WORKER), (str(request), _IN_SANDBOX_REQUEST)])
            argv += _hardening()
            if sfd is not None:
                argv += ["--seccomp", str(sfd)]
            argv += ["--info-fd", str(ifd_w), "--", _python(), "-I", "-S", _IN_SANDBOX_WORKER,
                     _IN_SANDBOX_REQUEST, str(wfd)]
            env, cwd = {}, "/"
        else:
            argv = [sys.executable, "-I", "-S", str(WORKER), str(request), str(wfd)]
            env, cwd = _ENV, tmp
        try:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, cwd=cwd, env=env, start_new_session=True,
                                        close_fds=True, pass_fds=(wfd, ifd_w) + ((sfd,) if sfd is not None else ()))
            except OSError as e:
                return done(None, f"cannot start the sandbox: {e}")
            finally:
                # Only the child holds the write ends now: EOF means it is gone.
                os.close(wfd)
                os.close(ifd_w)
                if sfd is not None:
                    os.close(sfd)
            bufs = {}
            try:
                bufs, fault = _collect({"res": rfd, "stderr": proc.stderr.fileno(), "info": ifd_r},
                                       {"res": MAX_RESULT_BYTES, "stderr": MAX_STDERR_BYTES, "info": 65536},
                                       start + wall_seconds)
            finally:
                # Whatever happened (including KeyboardInterrupt here), leave nothing running.
                _stop(proc, _ns_init_pid(bufs.get("info", b"")))
                proc.stderr.close()
        finally:
            os.close(rfd)
            os.close(ifd_r)
    out, err = bufs["res"], bufs["stderr"]
    elapsed = time.monotonic() - start

    if fault == "timeout":
        return done(None, f"timeout after {wall_seconds:g} s")
    if fault:
        return done(None, fault)
    if not out.strip():
        return done(None, _crash_reason(proc.returncode, elapsed, err, cpu_seconds, memory_mb))
    try:
        outputs, error, failed = parse_reply(out, inputs)
    except ValueError as e:
        return done(None, f"the sandbox sent a malformed result: {e}")
    return done(outputs, error, failed)

