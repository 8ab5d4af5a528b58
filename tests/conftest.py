"""Shared fixtures: real subjects compiled by tracr (cached in the user's cache dir across runs)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

import pytest

# One math thread per test process (and per CLI process the tests start, which inherit it): the
# parallel workers already fill every core, and on tiny subjects extra torch threads only wait on
# each other (measured: 14% less CPU for the leak and decompiler tests in one process).
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(1)

# A test run started in the background of a non-interactive shell (`python -m pytest -q > log &`, a
# script's `&`) inherits SIGINT ignored, and one started under `nohup` inherits SIGHUP ignored; so would
# the pytest-xdist workers and every CLI process the tests start (an ignored signal stays ignored across
# exec): the Ctrl-C and lost-terminal tests would wait for a signal that never lands. Restore the
# defaults, so a child starts with these signals as it would from a terminal. (The product itself keeps
# a signal ignored on purpose ignored: tests/e2e/test_sessions.py checks that by ignoring it explicitly.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
for _sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
    if signal.getsignal(_sig) is signal.SIG_IGN:
        signal.signal(_sig, signal.SIG_DFL)


def pytest_collection_modifyitems(config, items):
    # A test that starts a llama-cpp server takes minutes: it belongs to the slow tier, so the
    # fast tier `-m "not slow"` leaves it out without each such test having to say so twice.
    for item in items:
        if item.get_closest_marker("llm_server") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
    # Longest first: the parallel workers (pytest-xdist, see pyproject.toml) take tests in this order as
    # they free up, so a minutes-long test started last would leave the other worker idle at the end.
    # Only the order changes (stable within each rank); every test still runs.
    items.sort(key=_rank)


# The longest single tests of the suite (measured from an empty cache on 2 cores: the llama-cpp episode ~100 s with its
# server, the zoo verification ~35 s, the generated tasks 11-31 s per difficulty), then the rest of the slow tier.
LONGEST = ("test_compile_all_verify_agrees_everywhere", "test_episode_through_openai_compatible_server",
           "test_no_generated_program_has_a_step_that_does_nothing_many_seeds",
           "test_thirty_generated_tasks_across_difficulties_are_faithful")


def _rank(item) -> int:
    if item.originalname in LONGEST:
        return 0
    return 1 if item.get_closest_marker("slow") else 2


@pytest.fixture(scope="session", autouse=True)
def private_session_store(tmp_path_factory):
    """Every `run` is checkpointed in the session store: tests (and the CLI processes they start)
    write to a store of their own, never the user's. A test that needs its own sets the variable."""
    from tracr_agent.agent.episode.store import ENV_SESSIONS

    old = os.environ.get(ENV_SESSIONS)
    os.environ[ENV_SESSIONS] = str(tmp_path_factory.mktemp("store") / "sessions.sqlite")
    yield
    if old is None:
        os.environ.pop(ENV_SESSIONS, None)
    else:
        os.environ[ENV_SESSIONS] = old


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A directory and an environment for CLI processes with a session store of their own."""
    d = tmp_path_factory.mktemp("interactive")
    env = dict(os.environ, COLUMNS="120", TERM="dumb", NO_COLOR="1",
               TRACR_AGENT_SESSIONS=str(d / "sessions.sqlite"), XDG_DATA_HOME=str(d / "data"))
    env.pop("TRACR_AGENT_LLM", None)
    return d, env


@pytest.fixture(scope="session")
def load():
    from tracr_agent.tools.subjects.tasks import load_task

    cache: dict = {}

    def get(task_id: str):
        if task_id not in cache:
            cache[task_id] = load_task(task_id)
        return cache[task_id]

    return get


@pytest.fixture(scope="session")
def reverse_subject(load):
    return load("reverse")


@pytest.fixture(scope="session")
def sort_subject(load):
    return load("sort")


@pytest.fixture(scope="session")
def length_subject(load):
    return load("length")


class LocalTCPServer:
    """A TCP server on 127.0.0.1 (an ephemeral port) that accepts and keeps every connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._accepted: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                self._accepted.append(self.sock.accept()[0])
            except OSError:  # the accept timeout, or the socket closed
                continue

    def connections(self, settle: float = 0.3) -> int:
        """How many connections arrived so far (after `settle` s for one still in the backlog)."""
        time.sleep(settle)
        return len(self._accepted)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        for conn in self._accepted:
            conn.close()


@pytest.fixture
def local_tcp_server():
    """A listening server a sandboxed submission must not be able to reach."""
    server = LocalTCPServer()
    yield server
    server.close()
