"""Hostile submissions against the real sandbox (bubblewrap): each attack is contained and reported.

Every attack first switches the worker's audit-hook fence off through Python introspection (the
escape the old fence could not stop), so what is tested is the OS-level isolation underneath:
bubblewrap's namespaces, the seccomp syscall filter and the worker's rlimits. Attacks on processes and
resources run twice (fixture `layers`), with the filter and without it, so each layer is seen to hold.
Every run is checked as it returns by `leaves_nothing` (from test_sandbox.py): no process left in its
PID namespace, no new child or zombie of this process. docs/sandbox.md maps each property to its tests.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tracr_agent.tools.sandbox import runner as sandbox
from tracr_agent.tools.sandbox import seccomp as sandbox_seccomp
from tracr_agent.tools.sandbox.runner import parse_reply, run_implementation
from tracr_agent.tools.subjects.verify import outputs_equal
from test_sandbox import leaves_nothing, sandbox_children  # noqa: F401 (an autouse fixture)

INPUTS = [[1, 2], [3]]

# Reaches the worker's globals through object.__subclasses__() and disarms the audit hook;
# afterwards `os`, `sys` and the real builtins are the submission's.
ESCAPE = """
def _worker_globals():
    for c in object.__subclasses__():
        if c.__name__ == "_Sink":
            return c.write.__globals__
_g = _worker_globals()
_g["_state"]["armed"] = False
os = _g["os"]
sys = _g["sys"]
_bi = _g["__builtins__"]
_bi = _bi if isinstance(_bi, dict) else vars(_bi)
_import = _bi["__import__"]

def attempt(thunk):
    try:
        return "GOT " + repr(thunk())[:2000]
    except BaseException as e:
        return "ERR " + type(e).__name__ + ": " + str(e)[:200]
"""

def bubblewrap_required() -> bool:
    """On CI (which installs bubblewrap) and as root with bwrap present, the suite must run."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or (os.geteuid() == 0 and os.path.exists(sandbox.BWRAP))


def require_bubblewrap() -> None:
    """Fails the test where bubblewrap must work and does not; skips (with the reason) elsewhere."""
    problem = sandbox._probe()
    if problem is None:
        return
    if bubblewrap_required():
        pytest.fail(f"bubblewrap is unusable where the hostile suite must run: {problem}", pytrace=False)
    pytest.skip(f"bubblewrap unusable here: {problem}")


@pytest.fixture(autouse=True)
def _isolation_in_force():
    require_bubblewrap()


@pytest.fixture(params=["filtered", "unfiltered"])
def layers(request, monkeypatch):
    """Runs a test with the syscall filter and again without it: the namespaces and rlimits
    underneath must contain the attack on their own."""
    if request.param == "unfiltered":
        monkeypatch.setattr(sandbox, "_seccomp_fd", lambda: None)
    return request.param


def hostile(body: str, inputs=INPUTS, **kw):
    return run_implementation(ESCAPE + textwrap.dedent(body), inputs, **kw)


def answers(body: str) -> list[str]:
    """Runs `body` (which sets RESULTS, a list of attempt() strings) and returns those strings."""
    res = hostile(body + "\ndef f(t):\n    return [' | '.join(RESULTS)] * len(t)\n")
    assert res.outputs is not None, res.error
    return res.outputs[0][0].split(" | ")


def test_the_escape_really_disarms_the_fence():
    # Without OS isolation this very code read files; here it must still run (and f works).
    res = hostile("def f(t):\n    return [os.getpid()] * len(t)\n")
    assert res.ok, res.error
    assert res.outputs[0][0] < 10  # a fresh PID namespace: the worker is one of its first processes


def test_host_files_are_not_there(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    zoo = Path(sandbox.__file__).resolve().parents[2] / "tools" / "subjects" / "zoo" / "lib_tasks.py"
    assert zoo.exists()
    home_dotfiles = [p for p in Path.home().glob(".*") if p.is_file()][:5]
    targets = ["/etc/passwd", "/etc/shadow", str(zoo), str(secret), *map(str, home_dotfiles)]
    got = answers(f"RESULTS = [attempt(lambda p=p: open(p).read()) for p in {targets!r}]"
                  f" + [attempt(lambda: os.listdir({str(Path.home())!r}))]")
    for target, answer in zip(targets, got):
        assert answer.startswith("ERR FileNotFoundError"), (target, answer)
    # The home directory holds at most the path down to the Python installation.
    assert got[-1].startswith("ERR") or set(eval(got[-1][4:])) <= {".pyenv", ".local"}, got[-1]
    assert "TOP-SECRET" not in " ".join(got)


def test_writes_and_removals_fail_and_nothing_reaches_the_host(tmp_path):
    host_target = tmp_path / "pwned"
    got = answers(f"""
RESULTS = [attempt(lambda: open({str(host_target)!r}, "w").write("x")),
           attempt(lambda: open("/usr/pwned", "w").write("x")),
           attempt(lambda: os.remove("/sandbox/worker.py")),
           attempt(lambda: open("/sandbox/worker.py", "a").write("x")),
           attempt(lambda: os.mkdir({str(sandbox.WORKER.parent / "pwned_dir")!r}))]
""")
    assert all(a.startswith("ERR") for a in got), got
    assert not host_target.exists()
    assert not (sandbox.WORKER.parent / "pwned_dir").exists()
    assert sandbox.WORKER.read_text().startswith('"""Sandbox worker')


def test_no_network_even_to_a_local_server(local_tcp_server):
    got = answers(f"""
_socket = _import("socket")
def _connect():
    s = _socket.create_connection(("127.0.0.1", {local_tcp_server.port}), timeout=2)
    s.sendall(b"leak")
    return "connected"
RESULTS = [attempt(_connect)]
""")
    assert got[0].startswith("ERR"), got
    assert local_tcp_server.connections() == 0


def _processes_with(marker: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


def test_spawned_processes_and_daemons_are_dead_when_the_sandbox_returns(layers):
    marker = f"tracr-hostile-{uuid.uuid4().hex}"
    body = f"""
def _spawn_daemon():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}])
        os._exit(0)
    os.waitpid(pid, 0)
    return "spawned"
RESULTS = [attempt(_spawn_daemon),
           attempt(lambda: os.posix_spawn(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}], {{}}))]
"""
    start = time.monotonic()
    res = hostile(body + "\ndef f(t):\n    return [' | '.join(RESULTS)] * len(t)\n", wall_seconds=5)
    elapsed = time.monotonic() - start
    assert elapsed < 5 + 1, elapsed
    assert _processes_with(marker) == [], res


def test_a_submission_that_never_returns_is_killed_within_the_wall_limit(layers):
    marker = f"tracr-hostile-{uuid.uuid4().hex}"
    start = time.monotonic()
    res = hostile(f"""
try:
    if os.fork() == 0:
        os.setsid()
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}])
except OSError:
    pass  # the syscall filter refuses fork; the endless loop below is what is tested then
def f(t):
    while True:
        pass
""", wall_seconds=3, cpu_seconds=30)
    assert time.monotonic() - start < 3 + 1
    assert res.outputs is None and "timeout" in res.error
    assert _processes_with(marker) == []


def test_the_parents_environment_is_never_visible(monkeypatch):
    key = "sk-FAKE-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", key)
    got = answers("""
def _all_environs():
    out = [repr(dict(os.environ))]
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                out.append(open("/proc/%s/environ" % name, "rb").read().decode("latin-1"))
            except OSError:
                pass
    return out
RESULTS = [attempt(_all_environs), attempt(lambda: open("/proc/%d/environ" % os.getppid(), "rb").read())]
""")
    assert key not in " ".join(got)
    assert "OPENAI_API_KEY" not in " ".join(got)


# -- every process of the sandbox: within its limits, and gone when the score is ------------

def test_the_worker_is_alone_in_its_namespace_and_there_is_no_proc(layers):
    # bwrap keeps no init of its own in the namespace (--as-pid-1), so there is no process
    # without the worker's limits to reach, and no /proc to reach one through.
    got = answers("""
def _others():
    alive = []
    for pid in range(2, 500):
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive
RESULTS = [attempt(os.getpid), attempt(_others), attempt(lambda: os.listdir("/proc"))] + [
    attempt(lambda p=p: open(p, "r+b" if p.endswith("mem") else "rb").read(64))
    for p in ("/proc/1/mem", "/proc/1/status", "/proc/self/mountinfo", "/proc/self/environ",
              "/proc/self/cmdline", "/proc/self/maps", "/proc/thread-self/status", "/dev/fd/0")]
""")
    assert got[:2] == ["GOT 1", "GOT []"], got
    assert all(a.startswith("ERR FileNotFoundError") for a in got[2:]), got


CAPABILITY_PROBES = """
_ctypes = _import("ctypes")
_libc = _ctypes.CDLL(None, use_errno=True)
class _Header(_ctypes.Structure):
    _fields_ = [("version", _ctypes.c_uint32), ("pid", _ctypes.c_int)]
class _Sets(_ctypes.Structure):
    _fields_ = [("effective", _ctypes.c_uint32), ("permitted", _ctypes.c_uint32), ("inheritable", _ctypes.c_uint32)]
def _capget():
    header, sets = _Header(0x20080522, 0), (_Sets * 2)()  # _LINUX_CAPABILITY_VERSION_3, this process
    if _libc.capget(_ctypes.byref(header), sets) != 0:
        return "capget failed: errno %d" % _ctypes.get_errno()
    return [(s.effective, s.permitted, s.inheritable) for s in sets]
def _errno(rc):
    return (rc, _ctypes.get_errno() if rc != 0 else 0)
RESULTS = [attempt(_capget),
           attempt(lambda: [c for c in range(64) if _libc.prctl(23, c, 0, 0, 0) == 1]),     # PR_CAPBSET_READ
           attempt(lambda: [c for c in range(64) if _libc.prctl(47, 1, c, 0, 0) == 1]),     # PR_CAP_AMBIENT_IS_SET
           attempt(lambda: _libc.prctl(39, 0, 0, 0, 0)),                                    # PR_GET_NO_NEW_PRIVS
           attempt(lambda: _errno(_libc.mount(b"proc", b"/tmp", b"proc", 0, None))),
           attempt(lambda: _errno(_libc.chroot(b"/tmp"))),
           attempt(lambda: _errno(_libc.sethostname(b"x", 1))),
           attempt(lambda: _errno(_libc.setgroups(0, None)))]
"""


def test_no_capability_survives_even_when_tracr_agent_runs_as_root(layers):
    # As root (CI, containers) bwrap would keep every capability inside its user namespace unless told
    # otherwise; here the sets are empty and what they would allow fails (EPERM = 1).
    got = answers(CAPABILITY_PROBES)
    assert got[:4] == ["GOT [(0, 0, 0), (0, 0, 0)]", "GOT []", "GOT []", "GOT 1"], (os.geteuid(), got)
    assert got[4:] == ["GOT (-1, 1)"] * 4, got


def test_the_worker_carries_the_limits_before_any_submitted_code_runs(layers):
    got = answers("""
_resource = _import("resource")
RESULTS = [attempt(lambda r=r: _resource.prlimit(1, r)) for r in
           (_resource.RLIMIT_AS, _resource.RLIMIT_CPU, _resource.RLIMIT_NOFILE, _resource.RLIMIT_FSIZE)]
""")
    mb = 512 * 1024 * 1024
    assert got == [f"GOT {(mb, mb)!r}", "GOT (10, 10)", "GOT (8, 8)", "GOT (0, 0)"], got


# The worker forks one child per check and reports how each ended (with the filter, fork is refused).
CHILDREN_UNDER_LIMITS = """
_resource = _import("resource")
_signal = _import("signal")
def _child(body):
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status):
        usage = _resource.getrusage(_resource.RUSAGE_CHILDREN)  # the only child that used CPU
        return ("signal", _signal.Signals(os.WTERMSIG(status)).name, round(usage.ru_utime + usage.ru_stime, 1))
    return ("exit", os.WEXITSTATUS(status))
def _spin():
    _signal.signal(_signal.SIGXCPU, _signal.SIG_IGN)
    while True:
        pass
def _allocate():
    try:
        _hold = bytearray(300 * 1024 * 1024)
    except MemoryError:
        os._exit(3)
def _same_limits():
    kinds = (_resource.RLIMIT_AS, _resource.RLIMIT_CPU, _resource.RLIMIT_NOFILE, _resource.RLIMIT_FSIZE)
    os._exit(0 if [_resource.getrlimit(k) for k in kinds] == [_resource.prlimit(1, k) for k in kinds] else 4)
RESULTS = [attempt(lambda: _child(_spin)), attempt(lambda: _child(_allocate)), attempt(lambda: _child(_same_limits))]
"""


def test_children_obey_the_same_limits(layers):
    start = time.monotonic()
    res = hostile(CHILDREN_UNDER_LIMITS + "\ndef f(t):\n    return [' | '.join(RESULTS)] * len(t)\n",
                  cpu_seconds=2, memory_mb=256, wall_seconds=15)
    assert time.monotonic() - start < 15
    assert res.outputs is not None, res.error
    got = res.outputs[0][0].split(" | ")
    if layers == "filtered":
        assert all(a.startswith("ERR PermissionError") for a in got), got
        return
    spun = eval(got[0][4:])
    assert spun[:2] == ("signal", "SIGKILL") and spun[2] <= 2.1, got  # RLIMIT_CPU, whatever it ignores
    assert got[1:] == ["GOT ('exit', 3)", "GOT ('exit', 0)"], got  # 300 MB > 256 MB; the same rlimits


@pytest.mark.parametrize("worker_exits_first", [False, True], ids=["answers", "exits-first"])
def test_nothing_outlives_the_score(layers, worker_exits_first, leaves_nothing):
    # A daemon (double fork, setsid, SIGHUP/SIGTERM ignored) holds memory below the limit and waits;
    # the worker answers at once, or exits before answering. The score must come back at once and
    # nothing of the sandbox remain (leaves_nothing checks the PID namespace and this process's children).
    marker = f"tracr-hostile-{uuid.uuid4().hex}"
    body = f"""
_signal = _import("signal")
_time = _import("time")
def _daemon():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            for s in (_signal.SIGHUP, _signal.SIGTERM, _signal.SIGINT):
                _signal.signal(s, _signal.SIG_IGN)
            _hold = bytearray(150 * 1024 * 1024)
            _time.sleep(60)
        os._exit(0)
    os.waitpid(pid, 0)
    return "spawned"
RESULTS = [attempt(_daemon), {marker!r}]
"""
    body += "os._exit(0)\n" if worker_exits_first else ""
    start = time.monotonic()
    res = hostile(body + "def f(t):\n    return [' | '.join(RESULTS)] * len(t)\n", memory_mb=256, wall_seconds=10)
    assert time.monotonic() - start < 5, res
    if worker_exits_first:
        assert res.outputs is None and res.error == "sandbox process exited with status 0 without a result"
    else:
        assert res.outputs is not None and res.outputs[0][0].startswith(
            "GOT 'spawned'" if layers == "unfiltered" else "ERR PermissionError"), res
    assert len(leaves_nothing) == 1 and sandbox_children() == []


def test_signals_from_inside_reach_nothing_outside(layers):
    outside = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        got = answers(f"""
_signal = _import("signal")
def _child_signals_its_parent():
    pid = os.fork()
    if pid == 0:
        os.kill(1, _signal.SIGKILL)
        os.kill(os.getppid(), _signal.SIGKILL)
        os._exit(0)
    return os.waitpid(pid, 0)[1]
RESULTS = [attempt(lambda: os.kill(-1, _signal.SIGKILL)), attempt(lambda: os.kill(0, _signal.SIGTERM)),
           attempt(lambda: os.kill(os.getppid(), _signal.SIGKILL)), attempt(lambda: os.kill({outside.pid}, _signal.SIGKILL)),
           attempt(lambda: os.killpg({outside.pid}, _signal.SIGKILL)), attempt(_child_signals_its_parent)]
""")
        # The worker is its namespace's init: signals from inside it are ignored unless handled, and
        # nothing outside the namespace has a PID there.
        assert got[0] == "ERR ProcessLookupError: [Errno 3] No such process", got
        assert got[1:3] == ["GOT None", "GOT None"], got
        assert all(a.startswith("ERR ProcessLookupError") for a in got[3:5]), got
        assert got[5] == ("GOT 0" if layers == "unfiltered" else "ERR PermissionError: [Errno 1] Operation not permitted"), got
        assert outside.poll() is None
    finally:
        outside.kill()
        outside.wait()


def test_timers_neither_lift_the_cpu_limit_nor_outlast_the_run(layers):
    # The worker's own CPU timer disarmed and SIGXCPU ignored: RLIMIT_CPU still ends it at 1 s.
    start = time.monotonic()
    res = hostile("""
_signal = _import("signal")
_signal.setitimer(_signal.ITIMER_PROF, 0)
for _s in (_signal.SIGPROF, _signal.SIGXCPU, _signal.SIGVTALRM):
    _signal.signal(_s, _signal.SIG_IGN)
def f(t):
    while True:
        pass
""", cpu_seconds=1, wall_seconds=10)
    assert time.monotonic() - start < 5
    assert res.outputs is None and res.error == "CPU time limit (1 s)", res.error
    # A repeating wall-clock timer at its default action: ignored by the worker (its namespace's init),
    # and gone with it at the wall limit.
    start = time.monotonic()
    res = hostile("""
_signal = _import("signal")
_time = _import("time")
_signal.signal(_signal.SIGALRM, _signal.SIG_DFL)
_signal.setitimer(_signal.ITIMER_REAL, 0.2, 0.2)
def f(t):
    _time.sleep(30)
    return t
""", wall_seconds=2)
    assert time.monotonic() - start < 2 + 1
    assert res.outputs is None and res.error == "timeout after 2 s", res.error


def test_the_result_pipe_is_the_only_descriptor_from_outside():
    # bwrap's info and seccomp descriptors and the in-memory worker and request files are closed
    # before the worker starts: what it holds is /dev/null, the stderr pipe and its result pipe.
    got = answers("""
def _open_fds():
    fds = []
    for fd in range(64):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            pass
    return fds, int(sys.argv[2])
RESULTS = [attempt(_open_fds)]
""")
    fds, result_fd = eval(got[0][4:])
    assert fds == sorted({0, 1, 2, result_fd}), got


def test_no_host_path_or_name_is_visible_inside(tmp_path):
    got = answers("""
def _everything():
    seen = [repr(dict(os.environ)), repr(sys.argv), repr(getattr(sys, "orig_argv", [])), os.getcwd(),
            repr(os.uname())]
    for d in ("/", "/sandbox", "/tmp", "/dev", "/usr"):
        seen.append(repr(sorted(os.listdir(d))))
    seen.append(open("/sandbox/request.json").read())
    for p in ("/proc/self/mountinfo", "/proc/self/cmdline", "/proc/self/environ", "/proc/1/cmdline"):
        try:
            seen.append(open(p, "rb").read().decode("latin-1"))  # none exists today; a regression shows here
        except OSError:
            pass
    return " ".join(seen).replace(" | ", " ")
RESULTS = [attempt(_everything), attempt(lambda: os.uname().nodename)]
""")
    assert got[0].startswith("GOT") and got[1] == "GOT 'sandbox'", got
    # The Python installation is mounted where it is on the host (the interpreter needs it); nothing
    # else of the host's paths is there: not the project, the temp dirs, the home directory.
    text = got[0].replace(os.path.realpath(sys.base_prefix), "<python>")
    project = str(Path(sandbox.__file__).resolve().parents[2])
    for host_path in (project, str(tmp_path), tempfile.gettempdir() + "/tracr-sandbox", str(Path.home()), os.uname().nodename):
        assert host_path not in text, (host_path, text[:2000])


FORGED = '{"outputs": [[2, 4], [6]], "failed": [], "error": null}'
# Writes `_data` on stdout and on every descriptor that might be the result channel, then exits
# before the worker can answer.
FORGE_AND_EXIT = """
os.write(1, b"\\n" + _data + b"\\n")
for _fd in range(2, 64):
    try:
        os.write(_fd, _data)
    except OSError:
        pass
os._exit(0)
"""


@pytest.mark.parametrize("payload", [
    FORGED,
    "[" * 200_000 + "]" * 200_000,
    '{"outputs": [[2], [6]], "failed": [], "error": null}',
    '{"outputs": [[2, 4], [6]], "failed": 5, "error": null}',
    '{"outputs": [[2, 4], [{"x": 1}]], "failed": [], "error": null}',
    '{"outputs": [[2, 4]], "failed": [], "error": null}',
    "not json at all",
], ids=["valid-looking", "deep-nesting", "short-output", "bad-failed", "object-value", "too-few", "garbage"])
def test_forged_results_are_never_accepted(payload):
    res = hostile(f"_data = {payload!r}.encode()\n" + FORGE_AND_EXIT + "def f(t):\n    return t\n")
    if payload != FORGED:
        assert res.outputs is None
    if res.outputs is None:
        assert res.error and "\n" not in res.error and "Traceback" not in res.error
    else:
        # Only a well-formed reply passes, and it is just outputs: the parent still compares them
        # with the subject's own, so forging buys nothing that returning them from f would not.
        assert res.outputs == [[2, 4], [6]]


FORGED_VERDICTS = {
    # What a submission might claim on the result channel instead of letting the worker answer
    # (Python expressions over `_n`, the number of inputs, and `_inputs`, read from the request).
    "score-object": '{"agreement": 1.0, "n_inputs": _n, "correct": True, "error": None}',
    "reply-plus-verdict": '{"outputs": None, "failed": [], "error": None, "correct": True, "agreement": 1.0}',
    "all-failed-excused": '{"outputs": [None] * _n, "failed": list(range(_n)), "error": None}',
    "own-outputs-no-error": '{"outputs": [list(x) for x in _inputs], "failed": [], "error": None}',
}


@pytest.mark.parametrize("forgery", list(FORGED_VERDICTS))
def test_a_forged_correct_verdict_for_a_wrong_implementation_scores_wrong(reverse_subject, forgery):
    from tracr_agent.agent.scoring.score import score_functional

    # f is the identity (wrong for reverse). At import the code reads its inputs from the request
    # file, writes the forgery to every descriptor the result channel might be, and exits first.
    source = ESCAPE + f"""
_json = _import("json")
_inputs = _json.loads(open("/sandbox/request.json").read())["inputs"]
_n = len(_inputs)
_data = _json.dumps({FORGED_VERDICTS[forgery]}).encode()
""" + FORGE_AND_EXIT + """
def f(t):
    return list(t)
"""
    score = score_functional(source, reverse_subject)
    assert score.n_inputs > 100 and not score.correct and score.agreement < 1.0, score
    if forgery == "own-outputs-no-error":
        # Well-formed, so accepted as outputs, then compared by the parent: only palindromes agree.
        assert score.error is None and score.first_mismatch and 0 < score.agreement < 0.5, score
    else:
        assert score.agreement == 0.0 and score.error, score


def test_parse_reply_refuses_every_malformed_shape_with_a_reason():
    bad = [b"", b"[" * 200_000, b'{"outputs": [[1, 2]], "failed": [], "error": null}',
           b'{"outputs": [[1, 2], [3]], "failed": [7], "error": null}',
           b'{"outputs": [[1, 2], [3]], "failed": [], "error": 5}',
           b'{"outputs": [[1, 2], [3]], "failed": [], "error": null, "extra": 1}',
           b'{"outputs": null, "failed": [], "error": null}',
           b'{"outputs": [[1, [2]], [3]], "failed": [], "error": null}',
           b'{"outputs": [[1, 2], [3, 4]], "failed": [], "error": null}', b'{"a": "\\"[[[[[[["}',
           b'{"outputs": [null, null], "failed": [0, 1], "error": null}']
    for data in bad:
        with pytest.raises(ValueError):
            parse_reply(data, INPUTS)
    assert parse_reply(b'{"outputs": [[1, "x"], [true]], "failed": [], "error": null}', INPUTS) == \
        ([[1, "x"], [True]], None, [])
    # A string that merely contains brackets is not nesting.
    assert parse_reply(b'{"outputs": [["[[[[[[", 2], [3]], "failed": [], "error": null}', INPUTS)[0][0][0] == "[[[[[["


CAP = sandbox.MAX_RESULT_BYTES


def _output(first: bytes) -> bytes:
    """A reply whose first output is `first` (the second is right): the rest of the shape is valid."""
    return b'{"outputs": [' + first + b', [3]], "failed": [], "error": null}'


HOSTILE_REPLIES = {
    # class: (reply, the reason it is refused). Each is parsed in time linear in its length
    # (benchmarks/verdict_parse.py times them at the 8 MB cap); this checks what the parent says.
    # None: a valid reply after all.
    "8 MB of [": (b"[" * CAP, "result holds more lists than 2 inputs allow"),
    "8 MB of {": (b"{" * CAP, "result has the wrong shape"),
    "deep within the budget": (_output(b"[[1], 2]"), "result nested too deeply"),
    "backslash run in an open string": (b'{"error": "' + b"\\" * (CAP // 2 - 8), "result is not valid JSON (an unterminated string)"),
    "escaped quotes never closing": (b'["' + b'\\"' * (CAP // 2 - 2), "result is not valid JSON (an unterminated string)"),
    "8 MB of quotes": (b'"' * CAP, "result holds more strings than 2 inputs allow"),
    "brackets inside a string": (_output(b'["[[[[[[{{{{", 2]'), None),
    "a 5000-digit int": (_output(b"[" + b"9" * 5000 + b", 2]"), "result holds a number of more digits than Python prints"),
    "a 10**6-digit float": (_output(b"[1." + b"7" * 10**6 + b", 2]"), None),  # float() is linear: a plain value
    "many keys": (b'{' + b'"a": 1, ' * 1000 + b'"a": 1}', "result holds more strings than 2 inputs allow"),
    "a fourth key": (_output(b"[1, 2]")[:-1] + b', "x": 1}', "result has the wrong shape"),
    "many values": (_output(b"[" + b"1, " * 1000 + b"1]"), "result holds more values than 2 inputs allow"),
    "invalid UTF-8": (_output(b'["\xff", 2]'), "result is not UTF-8 (invalid byte at offset 15)"),
    "a lone surrogate in UTF-8": (_output(b'["\xed\xa0\x80", 2]'),
                                  "result is not UTF-8 (invalid byte at offset 15)"),
    "over the cap": (b"[" + b" " * CAP + b"]", "result exceeds 8192 KB"),
}


@pytest.mark.parametrize("name", list(HOSTILE_REPLIES))
def test_each_kind_of_hostile_reply_is_refused_with_its_reason(name):
    data, reason = HOSTILE_REPLIES[name]
    if reason is None:
        outputs, error, failed = parse_reply(data, INPUTS)
        assert outputs[0][1] == 2 and outputs[1] == [3] and error is None and failed == []
        return
    with pytest.raises(ValueError) as refused:
        parse_reply(data, INPUTS)
    assert str(refused.value) == reason


def test_a_lifted_int_digit_limit_is_no_way_around_the_length_check(monkeypatch):
    # With the interpreter's own limit lifted, int() of a long digit string is quadratic: refused by length.
    monkeypatch.setattr(sys, "get_int_max_str_digits", lambda: 0)
    with pytest.raises(ValueError, match=r"^result holds a number of 5000 digits$"):
        parse_reply(_output(b"[" + b"9" * 5000 + b", 2]"), INPUTS)
    assert parse_reply(_output(b"[" + b"9" * 4000 + b", 2]"), INPUTS)[0][0][0] == int("9" * 4000)


def test_nan_and_infinity_tokens_fail_their_input_not_the_reply():
    outputs, error, failed = parse_reply(b'{"outputs": [[NaN, 2], [-Infinity]], "failed": [], "error": null}', INPUTS)
    assert outputs == [None, None] and failed == [0, 1]
    assert error == "f returned a non-finite number (nan) on input [1, 2]"


def test_a_crash_reason_from_stderr_shows_control_characters():
    res = hostile("os.write(2, b'\\x1b[2K\\x1b]0;pwned\\x07 implementation correct\\n')\nos._exit(3)\n")
    assert res.error == "sandbox process exited with status 3: ␛[2K␛]0;pwned␇ implementation correct", res.error


def test_nan_and_infinity_are_never_correct():
    res = run_implementation("def f(t):\n    return [float('nan')] * len(t)\n", INPUTS)
    assert res.outputs == [None, None] and res.failed == [0, 1] and "non-finite" in res.error
    res = run_implementation("def f(t):\n    return [float('inf')] * len(t)\n", INPUTS)
    assert res.failed == [0, 1]
    nan, inf = float("nan"), float("inf")
    assert not outputs_equal([nan], [nan], True) and not outputs_equal([nan], [1.0], True)
    assert not outputs_equal([1.0], [nan], True) and not outputs_equal([inf], [inf], True)
    assert outputs_equal([1.0], [1.0 + 1e-9], True)


@pytest.mark.parametrize("fd", [1, 2, "result"])
def test_output_floods_are_capped(fd):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    target = "range(3, 64)" if fd == "result" else f"[{fd}]"
    start = time.monotonic()
    res = hostile(f"""
_chunk = b"[" * 65536
while True:
    for _fd in {target}:
        try:
            os.write(_fd, _chunk)
        except OSError:
            pass
def f(t):
    return t
""", wall_seconds=5, cpu_seconds=30)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert res.outputs is None
    if fd == 1:  # stdout goes nowhere: the flood only burns its own time
        assert "timeout" in res.error
    else:
        assert "output flood" in res.error, res.error
        assert time.monotonic() - start < 5
    assert grown_mb < 64, grown_mb


# -- the syscall filter ------------------------------------------------------------------

FILTERED_CALLS = {
    # name: (args, errno expected). Harmless arguments: each call would succeed or fail
    # differently without the filter.
    "ptrace": ((16, 2, 0, 0), "EPERM"),                  # PTRACE_ATTACH to a PID nobody has (ESRCH unfiltered)
    "unshare": ((0x10000000,), "EPERM"),                 # CLONE_NEWUSER
    "setns": ((0, 0), "EPERM"),
    "mount": ((0, 0, 0, 0, 0), "EPERM"),
    "keyctl": ((0, -3, 0), "EPERM"),                     # KEYCTL_GET_KEYRING_ID of the session
    "add_key": ((0, 0, 0, 0, 0), "EPERM"),
    "bpf": ((0, 0, 0), "EPERM"),
    "perf_event_open": ((0, 0, -1, -1, 0), "EPERM"),
    "personality": ((0xFFFFFFFF,), "EPERM"),             # a query: always allowed without a filter
    "process_vm_readv": ((1, 0, 0, 0, 0, 0), "EPERM"),
    "userfaultfd": ((0,), "EPERM"),
    "io_uring_setup": ((1, 0), "EPERM"),
    "clone": ((17, 0, 0, 0, 0), "EPERM"),                # SIGCHLD: a plain fork
    "fork": ((), "EPERM"),
    "chroot": ((0,), "EPERM"),
    "pivot_root": ((0, 0), "EPERM"),
}


def _syscall_numbers() -> dict[str, int]:
    lib = sandbox_seccomp._lib()
    assert not isinstance(lib, str), lib
    return {name: nr for name in FILTERED_CALLS if (nr := lib.seccomp_syscall_resolve_name(name.encode())) >= 0}


def _filtered_call_results() -> dict[str, str]:
    numbers = _syscall_numbers()
    return dict(zip(numbers, answers(f"""
_ctypes = _import("ctypes")
_errno = _import("errno")
_libc = _ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = _ctypes.c_long
def _call(nr, args):
    rc = _libc.syscall(_ctypes.c_long(nr), *[_ctypes.c_long(a) for a in args])
    if rc == 0 and nr in {[numbers.get("fork", -1), numbers["clone"]]!r}:
        _g["os"]._exit(0)  # never reached with the filter: a forked child leaves at once
    return rc if rc >= 0 else _errno.errorcode.get(_ctypes.get_errno(), "?")
RESULTS = [attempt(lambda nr=nr, a=a: _call(nr, a)) for nr, a in {[(nr, FILTERED_CALLS[n][0]) for n, nr in numbers.items()]!r}]
""")))


def test_the_syscall_filter_denies_what_an_escape_would_use():
    assert "seccomp filter" in sandbox.isolation_line()
    got = _filtered_call_results()
    assert len(got) >= 14, got  # every name above exists on x86-64 (fork does not on arm64)
    for name, answer in got.items():
        assert answer == f"GOT {FILTERED_CALLS[name][1]!r}", (name, answer)
    # Sockets: only AF_UNIX (no network namespace to reach anyway, but no netlink/packet/vsock either).
    got = answers("""
_socket = _import("socket")
RESULTS = [attempt(lambda fam=fam: _socket.socket(fam, _socket.SOCK_DGRAM).close() or "opened")
           for fam in (_socket.AF_INET, _socket.AF_INET6, _socket.AF_NETLINK, _socket.AF_PACKET, _socket.AF_UNIX)]
""")
    assert [a.split(":")[0] for a in got[:4]] == ["ERR OSError"] * 4 and all("[Errno 97]" in a for a in got[:4]), got
    assert got[4] == "GOT 'opened'", got


def test_without_the_filter_the_same_calls_get_through(monkeypatch):
    # The control: proves the test above sees the filter, not some other refusal.
    monkeypatch.setattr(sandbox, "_seccomp_fd", lambda: None)
    got = _filtered_call_results()
    assert got["personality"] == "GOT 0" and got["clone"].startswith("GOT ") and got["clone"][4:].isdigit(), got
    assert sum(a != "GOT 'EPERM'" for a in got.values()) >= 10, got
    # A new user namespace: refused by bwrap's --disable-userns underneath (bwrap >= 0.8), else allowed.
    assert got["unshare"] == ("GOT 'ENOSPC'" if sandbox._userns_locked() else "GOT 0"), got


def test_nested_user_namespaces_are_refused_even_without_the_filter(monkeypatch):
    monkeypatch.setattr(sandbox, "_seccomp_fd", lambda: None)
    assert sandbox._userns_locked(), "bwrap here cannot --disable-userns (needs bubblewrap >= 0.8)"
    assert "no nested user namespaces" in sandbox.isolation_line()
    got = answers("""
_ctypes = _import("ctypes")
_libc = _ctypes.CDLL(None, use_errno=True)
def _unshare(flags):
    return _libc.unshare(flags), _ctypes.get_errno()
RESULTS = [attempt(lambda: _unshare(0x10000000)), attempt(lambda: _unshare(0x10000000 | 0x20000000))]
""")
    assert got == ["GOT (-1, 28)", "GOT (-1, 28)"], got  # ENOSPC: max_user_namespaces is 0 inside


def test_the_filter_is_reported_missing_not_silently_dropped(monkeypatch):
    monkeypatch.setattr(sandbox_seccomp, "_lib", lambda: "libseccomp not found (test); install libseccomp2")
    sandbox_seccomp.filter_program.cache_clear()
    sandbox._seccomp_problem.cache_clear()
    try:
        line = sandbox.isolation_line()
        assert "NO syscall filter (libseccomp not found (test); install libseccomp2)" in line, line
        assert run_implementation("def f(t):\n    return t\n", INPUTS).outputs == INPUTS
    finally:
        monkeypatch.undo()
        sandbox_seccomp.filter_program.cache_clear()
        sandbox._seccomp_problem.cache_clear()
    assert "seccomp filter (libseccomp" in sandbox.isolation_line()


# -- resource exhaustion -------------------------------------------------------------------

def _parent_unaffected():
    """The test process still forks, opens files and allocates after the attack."""
    out = subprocess.run([sys.executable, "-c", "print(sum(range(10)))"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "45"
    with open(os.devnull) as fh:
        assert fh.fileno() > 2
    assert len(bytearray(64 * 1024 * 1024)) == 64 * 1024 * 1024


@pytest.mark.parametrize("attack,body,contained", [
    ("fork-bomb", """
def _bomb():
    n = 0
    while n < 100000:
        os.fork()
        n += 1
RESULTS = [attempt(_bomb)]""", ("PermissionError", "BlockingIOError")),
    ("threads", """
_threading = _import("threading")
def _spawn():
    ts = [_threading.Thread(target=lambda: None) for _ in range(100)]
    for t in ts:
        t.start()
    return len(ts)
RESULTS = [attempt(_spawn)]""", ("RuntimeError: can't start new thread",)),
], ids=["fork-bomb", "threads"])
def test_process_bombs_are_stopped_by_the_syscall_filter(attack, body, contained):
    # Run as root (CI, containers) RLIMIT_NPROC binds nothing: the kernel exempts uid 0 whatever its
    # capabilities, so the filter's refusal of fork/clone is what holds here (the PID namespace still
    # kills whatever would get through, see test_spawned_processes_and_daemons_are_dead...).
    _exhaustion_is_contained(attack, body, contained)


@pytest.mark.parametrize("attack,body,contained", [
    ("raise-limits", """
_resource = _import("resource")
RESULTS = [attempt(lambda r=r: _resource.setrlimit(r, (_resource.RLIM_INFINITY, _resource.RLIM_INFINITY)))
           for r in (_resource.RLIMIT_AS, _resource.RLIMIT_NPROC, _resource.RLIMIT_FSIZE, _resource.RLIMIT_NOFILE)]""",
     ("ValueError: not allowed to raise maximum limit",)),
    ("disk-fill", """
def _fill():
    with open("/tmp/fill", "wb") as fh:
        for _ in range(1000):
            fh.write(b"x" * 1048576)
            fh.flush()
RESULTS = [attempt(_fill)]""", ("File too large",)),
    ("descriptors", """
def _exhaust():
    fds = []
    while len(fds) < 100000:
        fds.extend(os.pipe())
RESULTS = [attempt(_exhaust)]""", ("Too many open files",)),
], ids=["raise-limits", "disk-fill", "descriptors"])
def test_resource_exhaustion_is_contained_and_reported(layers, attack, body, contained):
    _exhaustion_is_contained(attack, body, contained)


def _exhaustion_is_contained(attack, body, contained):
    start = time.monotonic()
    got = answers(body)
    elapsed = time.monotonic() - start
    assert elapsed < 20 + 1, elapsed
    for answer in got:
        assert answer.startswith("ERR") and any(c in answer for c in contained), (attack, answer)
    assert sandbox_children() == []
    _parent_unaffected()


@pytest.mark.parametrize("attack,body,reported", [
    ("fork-bomb", "while True:\n        os.fork()", "f raised PermissionError: [Errno 1] Operation not permitted"),
    ("descriptors", "while True:\n        os.pipe()", "f raised OSError: [Errno 24] Too many open files"),
    ("disk-fill", "open('/tmp/fill', 'wb').write(b'x' * 10**7)", "f raised OSError: [Errno 27] File too large"),
], ids=["fork-bomb", "descriptors", "disk-fill"])
def test_an_uncaught_exhaustion_is_reported_in_the_score(attack, body, reported):
    # The same attacks without the submission catching anything: the scorer's error names them.
    start = time.monotonic()
    res = hostile(f"def f(t):\n    {body}\n", wall_seconds=10)
    assert time.monotonic() - start < 10 + 1
    assert res.failed == [0, 1] and res.error.startswith(reported), res.error
    assert sandbox_children() == []
    _parent_unaffected()


def test_a_memory_bomb_is_stopped_by_the_address_space_limit(layers):
    start = time.monotonic()
    res = hostile("""
_resource = _import("resource")
try:
    _resource.setrlimit(_resource.RLIMIT_AS, (_resource.RLIM_INFINITY, _resource.RLIM_INFINITY))
except ValueError:
    pass
_hog = []
def f(t):
    while True:
        _hog.append(bytearray(64 * 1024 * 1024))
""", memory_mb=256, wall_seconds=10)
    assert time.monotonic() - start < 10 + 1
    assert res.outputs is None and res.error.startswith("memory limit (256 MB)"), res.error
    _parent_unaffected()


@pytest.fixture
def no_bubblewrap(monkeypatch):
    """As on a machine without bubblewrap; afterwards the real probe (and a safe sandbox) again."""
    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    sandbox._probe.cache_clear()
    yield
    sandbox.allow_unsafe(False)
    monkeypatch.undo()
    sandbox._probe.cache_clear()
    assert sandbox.isolation_line().startswith("sandbox: bubblewrap")


def test_an_unusable_bubblewrap_fails_the_suite_on_ci_and_only_skips_elsewhere(no_bubblewrap, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="unusable where the hostile suite must run"):
        require_bubblewrap()
    monkeypatch.setenv("CI", "false")  # not CI, and no bwrap installed: a skip with the reason
    with pytest.raises(pytest.skip.Exception, match="/nonexistent/bwrap not found"):
        require_bubblewrap()


def test_without_bubblewrap_scoring_is_refused_unless_allowed(no_bubblewrap):
    res = run_implementation("def f(t):\n    return t\n", INPUTS)
    assert res.outputs is None and "refused" in res.error and "--unsafe-sandbox" in res.error
    assert "apt-get install bubblewrap" in res.error
    assert "unavailable" in sandbox.isolation_line()
    sandbox.allow_unsafe(True)
    res = run_implementation("def f(t):\n    return t\n", INPUTS)
    assert res.ok and res.outputs == INPUTS
    assert "UNSAFE" in sandbox.isolation_line()


def cli(*args):
    from typer.testing import CliRunner

    from tracr_agent.agent.cli.main import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
def test_unsafe_sandbox_is_announced_and_recorded_in_the_transcript(tmp_path, no_bubblewrap):
    from tracr_agent.agent.records import transcript as tr

    refused = cli("run", "reverse", "--llm", "baseline", "-q", "--transcript", str(tmp_path / "a.jsonl"))
    unsafe = cli("run", "reverse", "--llm", "baseline", "-q", "--unsafe-sandbox",
                 "--transcript", str(tmp_path / "b.jsonl"))
    assert refused.exit_code == 0, refused.output
    assert "scoring of submitted code is refused" in " ".join(refused.output.split())
    header = tr.read_transcript(tmp_path / "a.jsonl")[0][0]
    assert header.unsafe_sandbox is None
    assert "refused to run untrusted code" in (tmp_path / "a.jsonl").read_text()
    assert unsafe.exit_code == 0, unsafe.output
    assert "sandbox: UNSAFE" in unsafe.output
    header = tr.read_transcript(tmp_path / "b.jsonl")[0][0]
    assert header.unsafe_sandbox is True
    assert "implementation correct (100.0%" in " ".join(unsafe.output.split()), unsafe.output
    exported = cli("export", str(tmp_path / "b.jsonl"), "-o", str(tmp_path / "b.md"))
    assert exported.exit_code == 0, exported.output
    assert "UNSAFE: scored without OS-level isolation" in (tmp_path / "b.md").read_text()


@pytest.mark.slow
def test_unsafe_scoring_in_eval_resume_and_rescore_is_recorded_and_reported(tmp_path, no_bubblewrap):
    from tracr_agent.agent.evaluation.batch import read_results

    out = tmp_path / "ev"
    first = cli("eval", "--tasks", "reverse", "--llm", "baseline", "--out", str(out))
    assert first.exit_code == 0, first.output
    assert "scoring of submitted code is refused" in " ".join(first.output.split())
    [rec] = read_results(out)
    assert rec.unsafe_sandbox is None and rec.functional_correct is False
    assert "UNSAFE" not in (out / "report.md").read_text()

    # --resume with --unsafe-sandbox: the new episode is flagged, the old one is not
    resumed = cli("eval", "--tasks", "reverse,sort", "--llm", "baseline", "--out", str(out), "--resume",
                  "--unsafe-sandbox")
    assert resumed.exit_code == 0, resumed.output
    assert "sandbox: UNSAFE" in resumed.output
    flags = {r.task: r.unsafe_sandbox for r in read_results(out)}
    assert flags == {"reverse": None, "sort": True}
    # the report scores every episode afresh, the old one too: both were scored unsafely for it
    warning = "UNSAFE: 2 of 2 episode(s) were scored with --unsafe-sandbox"
    assert warning in " ".join(resumed.output.split())
    assert warning in (out / "report.md").read_text()
    assert "class='unsafe'" in (out / "report.html").read_text() and warning in (out / "report.html").read_text()

    # rescore: refused without the flag (announced), flagged with it; `report`, which scores afresh too, the same
    refused = cli("rescore", str(out))
    assert refused.exit_code == 0 and "scoring of submitted code is refused" in " ".join(refused.output.split())
    assert all(r.unsafe_sandbox is None and r.functional_correct is False for r in read_results(out))
    rescored = cli("rescore", str(out), "--unsafe-sandbox")
    assert rescored.exit_code == 0 and "sandbox: UNSAFE" in rescored.output, rescored.output
    records = read_results(out)
    assert all(r.unsafe_sandbox is True for r in records) and all(r.functional_correct for r in records)
    reported = cli("report", str(out))
    assert reported.exit_code == 0 and "scoring of submitted code is refused" in " ".join(reported.output.split())
    assert "UNSAFE" not in (out / "report.md").read_text()
    reported = cli("report", str(out), "--unsafe-sandbox")
    assert reported.exit_code == 0
    assert "UNSAFE: 2 of 2 episode(s)" in " ".join(reported.output.split())
    assert "UNSAFE: 2 of 2 episode(s)" in (out / "report.md").read_text()
