"""The llama-cpp test helper reports a server that dies under a test: its signal and its log, not
"Connection error" (as when a llama.cpp built for another CPU dies at its first completion)."""

from __future__ import annotations

import glob
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from llm_server import LlamaServerError, llama_server

# Stands in for `python -m llama_cpp.server`: answers GET /v1/models, and dies of SIGSEGV at the
# first completion, as a llama.cpp with unsupported instructions does.
FAKE_SERVER = r'''
import http.server, os, signal, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"data": []}')
    def do_POST(self):
        print("general protection fault in libggml-cpu.so", flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
'''


def fake_python(tmp_path):
    """An executable that takes the server's argv and runs FAKE_SERVER instead."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    exe = tmp_path / "python"
    exe.write_text(f"#!/bin/sh\nshift 2\nexec {sys.executable} {script} \"$@\"\n")
    exe.chmod(0o755)
    return str(exe)


def test_a_server_dying_under_a_test_is_reported_with_its_signal_and_log(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(LlamaServerError) as info:
        with llama_server(model, python=fake_python(tmp_path), startup_timeout=30) as url:
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(urllib.request.Request(url + "/chat/completions", data=b"{}"), timeout=10)
            url.raise_if_dead()
    message = str(info.value)
    assert "killed by signal SIGSEGV" in message
    assert "general protection fault in libggml-cpu.so" in message  # the log's tail


def test_a_failing_body_with_a_live_server_keeps_its_own_error(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(AssertionError, match="the test's own failure"):
        with llama_server(model, python=fake_python(tmp_path), startup_timeout=30) as url:
            url.raise_if_dead()  # alive: nothing to report
            raise AssertionError("the test's own failure")


def test_the_test_server_runs_on_any_x86_64_cpu():
    """llama-cpp-python is built with CMAKE_ARGS=-DGGML_NATIVE=OFF (README): its CPU backend holds no
    AMX tile or AVX-512 instructions, which a native build on a newer host puts in and which kill the
    server (general protection fault) on hosts that advertise but do not allow them."""
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.fail(f"this check is for x86-64 hosts, not {platform.machine()}: deselect it there")
    spec = importlib.util.find_spec("llama_cpp")
    assert spec is not None, "llama-cpp-python is not installed: pip install -e '.[test]'"
    libs = glob.glob(os.path.join(os.path.dirname(spec.origin), "lib", "libggml-cpu*.so*"))
    assert libs, "no libggml-cpu in llama_cpp/lib"
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to inspect the library"
    lib = max(libs, key=os.path.getsize)
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", lib], capture_output=True, text=True, check=True).stdout
    amx = re.findall(r"\b(ldtilecfg|tileloadd\w*|tdpb\w+)\b", text)
    avx512 = re.findall(r"%zmm\d+", text)
    assert not amx and not avx512, (f"{lib} was built for this host's CPU ({len(amx)} AMX, {len(avx512)} AVX-512 "
                                    "operands): reinstall with CMAKE_ARGS=-DGGML_NATIVE=OFF pip install "
                                    "--force-reinstall --no-cache-dir llama-cpp-python")
