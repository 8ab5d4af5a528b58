"""Sandbox worker: evaluates one submitted implementation `f` on many inputs.

Started by `tracr_agent.tools.sandbox.runner.run_implementation` as
`python -I -S <this file> REQUEST_FILE RESULT_FD` (isolated mode, no site-packages),
normally inside bubblewrap. Reads one JSON request from REQUEST_FILE:

    {"source": "...", "inputs": [[...], ...], "cpu_seconds": 10, "memory_mb": 512}

and writes one JSON document to the file descriptor RESULT_FD (not stdout: the
submitted code's prints go to a sink, and the parent validates whatever arrives):

    {"outputs": [[...], ...] | null, "failed": [i, ...], "error": "..." | null}

where `failed` lists the indices of inputs on which f raised or returned an
unusable value (their outputs are null) and `error` is a one-line reason.

Defences, in order: OS resource limits (CPU seconds, address space, no file
writes, few file descriptors, no core dumps, no child processes), set before any
submitted code runs and inherited by every process it could start (under
bubblewrap this worker is its PID namespace's first process, so no process in
the sandbox is without them); a restricted
`__import__` in the namespace the code runs in (an allowlist of pure
stdlib modules); an audit hook (PEP 578) that blocks network, process
creation, file access and resource-limit changes however they are reached.
This stops accidents and casual misuse (an infinite loop, a memory bomb,
`import os`, a stray `open(..., "w")`); a determined adversary can still reach
worker internals through Python introspection, which is why the process
boundary and the rlimits, not the namespace, are what bound the damage.

Only the standard library is imported: this file must stay standalone.
"""

import json
import os
import resource
import signal
import sys

# Allowed for the submitted code; preloaded before the audit hook is armed so
# that importing them later needs no file access.
ALLOWED_MODULES = (
    "math", "cmath", "itertools", "functools", "collections", "collections.abc",
    "statistics", "re", "string", "operator", "fractions", "decimal", "numbers",
    "typing", "copy", "heapq", "bisect", "enum", "__future__",
)
for _name in ALLOWED_MODULES:
    __import__(_name)
import builtins  # noqa: E402
import decimal  # noqa: E402
import numbers  # noqa: E402

ALLOWED_TEXT = ", ".join(m for m in ALLOWED_MODULES if m != "__future__")

# Modules whose (new) import the audit hook refuses outright, whoever asks.
BLOCKED_IMPORTS = frozenset("""
os posix nt sys subprocess _posixsubprocess socket _socket ssl select selectors asyncio
shutil pathlib glob tempfile io _io fcntl mmap pty tty termios resource signal ctypes _ctypes
multiprocessing _multiprocessing concurrent threading _thread importlib zipimport runpy
builtins gc inspect pickle _pickle marshal code codeop pdb urllib http ftplib smtplib poplib
imaplib telnetlib xmlrpc socketserver webbrowser sqlite3 _sqlite3 dbm shelve
""".split())

_NETWORK_PREFIXES = ("socket.", "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.",
                     "nntplib.", "telnetlib.", "webbrowser.", "ssl.")
_PROCESS_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.startfile", "pty.spawn", "os.popen",
})
_WRITE_EVENTS = frozenset({
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
    "os.link", "os.symlink", "os.utime", "os.chflags", "os.lchflags", "os.setxattr",
    "os.removexattr", "tempfile.mkstemp", "tempfile.mkdtemp",
})
_READ_EVENTS = frozenset({"os.listdir", "os.scandir", "os.chdir", "glob.glob", "glob.glob/2",
                          "os.listxattr", "os.getxattr", "sqlite3.connect", "mmap.__new__"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

_state = {"armed": False, "violation": None, "cpu_seconds": 10, "memory_mb": 512}


class SandboxViolation(BaseException):
    """Raised by the audit hook; a BaseException so `except Exception` does not swallow it."""


class BlockedImport(ImportError):
    """A disallowed import from the submitted code (catchable, like a missing module)."""


class CPULimit(BaseException):
    pass


def _classify(event, args):
    if event == "open":
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
        return "blocked: file write" if writing else "blocked: file access"
    if event.startswith(_NETWORK_PREFIXES):
        return "blocked: network access"
    if event in _PROCESS_EVENTS:
        return f"blocked: process control ({event})"
    if event in _WRITE_EVENTS or event.startswith("shutil."):
        return "blocked: file write"
    if event in _READ_EVENTS:
        return "blocked: file access"
    if event.startswith("ctypes."):
        return "blocked: ctypes"
    if event in ("resource.setrlimit", "resource.prlimit"):
        return "blocked: resource limit change"
    if event in ("os.putenv", "os.unsetenv"):
        return "blocked: environment change"
    if event == "import":
        name = str(args[0])
        if name.partition(".")[0] in BLOCKED_IMPORTS:
            return f"blocked import: {name}"
    return None


def _audit_hook(event, args):
    if not _state["armed"]:
        return
    reason = _classify(event, args)
    if reason is not None:
        if _state["violation"] is None:
            _state["violation"] = reason
        raise SandboxViolation(reason)


def _restricted_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level != 0:
        raise BlockedImport(f"blocked import: relative import of {name!r}")
    if name not in ALLOWED_MODULES:
        raise BlockedImport(f"blocked import: {name} (allowed modules: {ALLOWED_TEXT})")
    return __import__(name, globals, locals, fromlist, 0)


def _on_cpu_limit(signum, frame):
    _state["violation"] = _state["violation"] or f"CPU time limit ({_state['cpu_seconds']:g} s)"
    raise CPULimit(_state["violation"])


class _Sink:
    """Stands in for stdout/stderr: the submitted code's prints go nowhere."""

    def write(self, s):
        return len(s)

    def flush(self):
        pass


def _one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _user_lineno(exc):
    """The line of the submitted code where `exc` was raised (innermost frame in it)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<implementation>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc):
    try:
        msg = str(exc)
    except BaseException:
        msg = ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class BadOutput(Exception):
    pass


def _clean(value):
    """Output value -> JSON-safe value keeping None/bool/int/float/str distinct."""
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is str:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    raise BadOutput(t.__name__)


def _where(e: BaseException) -> str:
    """' (line N)' for the line of the submitted code that raised, or ''."""
    line = _user_lineno(e)
    return f" (line {line})" if line else ""


def _fatal_reason(e: BaseException):
    """The run-ending reason an exception stands for (a blocked import or action, a limit), or None
    for an ordinary error in the submitted code."""
    if isinstance(e, BlockedImport):
        return _one_line(str(e))
    if isinstance(e, MemoryError):
        return _memory_error()
    if isinstance(e, (SandboxViolation, CPULimit)) or _state["violation"]:
        return _state["violation"]
    return None


def _fatal(error):
    return {"outputs": None, "failed": [], "error": error}


def _memory_error():
    return f"memory limit ({_state['memory_mb']:g} MB)"


def _set_limits(cpu_seconds, memory_mb):
    def lim(res, soft, hard=None):
        try:
            resource.setrlimit(res, (soft, soft if hard is None else hard))
        except (ValueError, OSError):
            pass

    # No process may use more than `cpu_seconds` of CPU: the limit (whole seconds, at least one) is
    # a SIGKILL for every process. The worker stops itself a little earlier, on its CPU-time timer,
    # to report the limit as an error line.
    cpu = max(1, int(cpu_seconds))
    lim(resource.RLIMIT_CPU, cpu, cpu)
    signal.setitimer(signal.ITIMER_PROF, cpu - min(0.5, cpu / 4))
    lim(resource.RLIMIT_AS, int(memory_mb * 1024 * 1024))
    lim(resource.RLIMIT_FSIZE, 0)
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_NOFILE, 8)
    if hasattr(resource, "RLIMIT_NPROC"):
        lim(resource.RLIMIT_NPROC, 0)


def evaluate(source, inputs):
    """Runs the submitted source and its f on every input; never raises."""
    try:
        code = compile(source, "<implementation>", "exec")
    except SyntaxError as e:
        return _fatal(_one_line(f"implementation has a syntax error: {e.msg} (line {e.lineno})"))
    except (ValueError, MemoryError, RecursionError) as e:
        return _fatal(_one_line(f"implementation cannot be compiled: {_describe(e)}"))

    safe_builtins = {k: v for k, v in vars(builtins).items()
                     if k not in ("breakpoint", "input", "help", "exit", "quit", "copyright",
                                  "credits", "license", "__loader__", "__spec__")}
    safe_builtins["__import__"] = _restricted_import
    namespace = {"__builtins__": safe_builtins, "__name__": "__implementation__"}

    try:
        exec(code, namespace)
    except BaseException as e:
        reason = _fatal_reason(e)
        if reason:
            return _fatal(reason)
        return _fatal(_one_line(f"running the implementation raised {_describe(e)}{_where(e)}"))
    if _state["violation"]:
        return _fatal(_state["violation"])

    f = namespace.get("f")
    if not callable(f):
        return _fatal("implementation does not define f" if f is None
                      else f"implementation defines f as a {type(f).__name__}, not a function")

    outputs, failed, first_error = [], [], None
    for i, x in enumerate(inputs):
        message = None
        try:
            out = f(list(x))
            if isinstance(out, (str, bytes, dict, set, frozenset)) or out is None:
                message = f"f returned {type(out).__name__}, expected a list, on input {x!r}"
            else:
                if not isinstance(out, (list, tuple)):
                    out = list(out)
                if len(out) != len(x):
                    message = f"output for input {x!r} has length {len(out)}, expected {len(x)}"
                else:
                    out = [_clean(v) for v in out]
        except BadOutput as e:
            message = f"f returned a {e.args[0]} value on input {x!r} (outputs must be None, bool, int, float or str)"
        except BaseException as e:
            reason = _fatal_reason(e)
            if reason:
                return _fatal(reason)
            message = f"f raised {_describe(e)} on input {x!r}{_where(e)}"
        if _state["violation"]:
            return _fatal(_state["violation"])
        if message is not None:
            failed.append(i)
            outputs.append(None)
            if first_error is None:
                first_error = _one_line(message)
        else:
            outputs.append(out)
    error = None
    if failed:
        error = first_error if len(failed) == 1 else f"{first_error}; failed on {len(failed)} of {len(inputs)} inputs"
    return {"outputs": outputs, "failed": failed, "error": error}


def main():
    with open(sys.argv[1], "rb") as fh:
        request = json.loads(fh.read().decode("utf-8"))
    result_fd = int(sys.argv[2])
    os.set_inheritable(result_fd, False)
    _state["cpu_seconds"] = request.get("cpu_seconds", 10)
    _state["memory_mb"] = request.get("memory_mb", 512)
    source, inputs = request["source"], request["inputs"]
    del request
    reserve = bytearray(4 * 1024 * 1024)  # freed on MemoryError so reporting still works

    signal.signal(signal.SIGPROF, _on_cpu_limit)
    _set_limits(_state["cpu_seconds"], _state["memory_mb"])
    sys.stdout = sys.stderr = _Sink()
    sys.addaudithook(_audit_hook)
    _state["armed"] = True

    try:
        result = evaluate(source, inputs)
        del source, inputs
        text = json.dumps(result)
    except MemoryError:
        del reserve
        result = None
        text = json.dumps(_fatal(_memory_error()))
    except (CPULimit, SandboxViolation):
        result = None
        text = json.dumps(_fatal(_state["violation"]))
    except Exception as e:  # e.g. an int too large to print
        result = None
        text = json.dumps(_fatal(_one_line(f"cannot serialise the outputs: {_describe(e)}")))
    data = text.encode("utf-8")
    while data:
        data = data[os.write(result_fd, data):]
    os.close(result_fd)


if __name__ == "__main__":
    main()
