"""Hostile submissions against the real sandbox (bubblewrap): each attack is contained and reported.

Every attack first switches the worker's audit-hook fence off through Python introspection (the
escape the old fence could not stop), so what is tested is the OS-level isolation underneath.
"""

from __future__ import annotations

import os
import resource
import socket
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from tracr_agent.agent.scoring import sandbox
from tracr_agent.agent.scoring.sandbox import parse_reply, run_implementation
from tracr_agent.tools.subjects.verify import outputs_equal

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

pytestmark = pytest.mark.skipif(sandbox._probe() is not None,
                                reason=f"bubblewrap unusable here: {sandbox._probe()}")


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


def test_no_network_even_to_a_local_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted = []

    def accept_loop(stop=time.monotonic() + 15):
        while time.monotonic() < stop:
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    t = threading.Thread(target=accept_loop, daemon=True)
    t.start()
    try:
        got = answers(f"""
_socket = _import("socket")
def _connect():
    s = _socket.create_connection(("127.0.0.1", {port}), timeout=2)
    s.sendall(b"leak")
    return "connected"
RESULTS = [attempt(_connect)]
""")
    finally:
        server.close()
    assert got[0].startswith("ERR"), got
    assert not accepted


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


def test_spawned_processes_and_daemons_are_dead_when_the_sandbox_returns():
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


def test_a_submission_that_never_returns_is_killed_within_the_wall_limit():
    marker = f"tracr-hostile-{uuid.uuid4().hex}"
    start = time.monotonic()
    res = hostile(f"""
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}])
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


FORGED = '{"outputs": [[2, 4], [6]], "failed": [], "error": null}'


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
    # Print the forgery on stdout and on every descriptor that might be the result channel, then exit
    # before the worker can answer.
    res = hostile(f"""
_data = {payload!r}.encode()
os.write(1, b"\\n" + _data + b"\\n")
for _fd in range(3, 64):
    try:
        os.write(_fd, _data)
    except OSError:
        pass
os._exit(0)
def f(t):
    return t
""")
    if payload != FORGED:
        assert res.outputs is None
    if res.outputs is None:
        assert res.error and "\n" not in res.error and "Traceback" not in res.error
    else:
        # Only a well-formed reply passes, and it is just outputs: the parent still compares them
        # with the subject's own, so forging buys nothing that returning them from f would not.
        assert res.outputs == [[2, 4], [6]]


def test_parse_reply_refuses_every_malformed_shape_with_a_reason():
    bad = [b"", b"[" * 200_000, b'{"outputs": [[1, 2]], "failed": [], "error": null}',
           b'{"outputs": [[1, 2], [3]], "failed": [7], "error": null}',
           b'{"outputs": [[1, 2], [3]], "failed": [], "error": 5}',
           b'{"outputs": [[1, 2], [3]], "failed": [], "error": null, "extra": 1}',
           b'{"outputs": null, "failed": [], "error": null}',
           b'{"outputs": [[1, [2]], [3]], "failed": [], "error": null}',
           b'{"outputs": [[1, 2], [3, 4]], "failed": [], "error": null}', b'{"a": "\\"[[[[[[["}']
    for data in bad:
        with pytest.raises(ValueError):
            parse_reply(data, INPUTS)
    assert parse_reply(b'{"outputs": [[1, "x"], [true]], "failed": [], "error": null}', INPUTS) == \
        ([[1, "x"], [True]], None, [])
    # A string that merely contains brackets is not nesting.
    assert parse_reply(b'{"outputs": [["[[[[[[", 2], [3]], "failed": [], "error": null}', INPUTS)[0][0][0] == "[[[[[["


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


def test_without_bubblewrap_scoring_is_refused_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    sandbox._probe.cache_clear()
    try:
        res = run_implementation("def f(t):\n    return t\n", INPUTS)
        assert res.outputs is None and "refused" in res.error and "--unsafe-sandbox" in res.error
        assert "apt-get install bubblewrap" in res.error
        assert "unavailable" in sandbox.isolation_line()
        sandbox.allow_unsafe(True)
        res = run_implementation("def f(t):\n    return t\n", INPUTS)
        assert res.ok and res.outputs == INPUTS
        assert "UNSAFE" in sandbox.isolation_line()
    finally:
        sandbox.allow_unsafe(False)
        monkeypatch.undo()
        sandbox._probe.cache_clear()
    assert sandbox.isolation_line().startswith("sandbox: bubblewrap")


@pytest.mark.slow
def test_unsafe_sandbox_is_announced_and_recorded_in_the_transcript(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tracr_agent.agent.cli.main import app
    from tracr_agent.agent.episode import transcript as tr

    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    sandbox._probe.cache_clear()
    try:
        refused = CliRunner().invoke(app, ["run", "reverse", "--llm", "baseline", "-q",
                                           "--transcript", str(tmp_path / "a.jsonl")])
        unsafe = CliRunner().invoke(app, ["run", "reverse", "--llm", "baseline", "-q", "--unsafe-sandbox",
                                          "--transcript", str(tmp_path / "b.jsonl")])
    finally:
        sandbox.allow_unsafe(False)
        monkeypatch.undo()
        sandbox._probe.cache_clear()
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
    exported = CliRunner().invoke(app, ["export", str(tmp_path / "b.jsonl"), "-o", str(tmp_path / "b.md")])
    assert exported.exit_code == 0, exported.output
    assert "UNSAFE: scored without OS-level isolation" in (tmp_path / "b.md").read_text()
