"""A scripted fake of the providers' HTTP APIs (Anthropic's /v1/messages, Ollama's /api/chat, and
Mistral's /v1/chat/completions, OpenAI's shape), so LangChain clients can be tested against 127.0.0.1 and
nothing ever reaches the internet. Not a test module.

`ProviderServer(script)` answers each request with the next entry of `script`: an HTTP status code (an
error reply), a float (sleep that many seconds, then a 503: a server slower than any sane limit),
`(text, [(tool_name, args), …])` in the provider's own wire format, or one of the faults below —
`Drip` (a whole reply sent a byte at a time), `RetryAfter` (429 or 503 with a Retry-After header),
`Malformed` (200 with a body that is not JSON); it keeps every request (path, headers, JSON body, monotonic time
`at`) in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Drip:
    """A valid reply (`text`, no tool call) sent one byte every `every` seconds: each read of the
    client gets a byte long before its timeout, so only a deadline on the whole call ends it."""

    every: float = 0.5
    text: str = "thinking"


@dataclass(frozen=True)
class RetryAfter:
    """An error reply asking the client to wait: `Retry-After: value` (seconds or an HTTP date)."""

    value: str
    status: int = 429


@dataclass(frozen=True)
class Malformed:
    """A reply whose body is not what the client expects: by default a 200 that is not JSON (a proxy's
    page, a cut stream); with another `status`, an error whose text is `body`."""

    body: bytes = b'{"id": "x", "choices": [{"message": <html>bad gateway</html>'
    status: int = 200



def anthropic_reply(i: int, text: str, calls: list) -> dict:
    content = ([{"type": "text", "text": text}] if text else []) + [
        {"type": "tool_use", "id": f"toolu_{i}_{k}", "name": name, "input": args} for k, (name, args) in enumerate(calls)]
    return {"id": f"msg_{i}", "type": "message", "role": "assistant", "model": "fake", "content": content,
            "stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 20}}


def ollama_reply(i: int, text: str, calls: list) -> dict:
    return {"model": "fake", "created_at": "2026-01-01T00:00:00Z", "done": True, "done_reason": "stop",
            "message": {"role": "assistant", "content": text,
                        "tool_calls": [{"function": {"name": name, "arguments": args}} for name, args in calls]},
            "prompt_eval_count": 100, "eval_count": 20}


def openai_reply(i: int, text: str, calls: list) -> dict:
    """OpenAI's chat-completions shape, which Mistral's API shares (tool-call ids: 9 letters/digits)."""
    return {"id": f"cmpl-{i}", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                         "message": {"role": "assistant", "content": text, "tool_calls": [
                             {"id": f"call{i:02d}{k:03d}", "type": "function",
                              "function": {"name": name, "arguments": json.dumps(args)}}
                             for k, (name, args) in enumerate(calls)]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}


FORMATS = {"/v1/messages": anthropic_reply, "/api/chat": ollama_reply, "/v1/chat/completions": openai_reply}


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timed-out call) is expected here, not a failure to print

    def __init__(self, script: list):
        self.script = list(script)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.closed.set()  # wakes any handler still "thinking", which then hangs up without a word
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        server: ProviderServer = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        with server.lock:
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                    "at": time.monotonic()})
            i = len(server.requests)
            step = server.script.pop(0) if server.script else 500
        if isinstance(step, float):  # a server that takes this long to say anything, then fails
            if server.closed.wait(step):
                return
            step = 503
        fmt = FORMATS.get(self.path.split("?")[0])
        headers = {}
        if isinstance(step, RetryAfter):
            headers["retry-after"] = step.value
            step = step.status
        if isinstance(step, Malformed):
            status, data = step.status, step.body
        elif fmt is None or isinstance(step, int):
            status = 404 if fmt is None else step
            data = json.dumps({"type": "error", "error": {"type": "api_error", "message": "scripted failure"}}).encode()
        elif isinstance(step, Drip):
            status, data = 200, json.dumps(fmt(i, step.text, [])).encode()
        else:
            status, data = 200, json.dumps(fmt(i, *step)).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if isinstance(step, Drip):
                for k in range(len(data)):
                    if server.closed.wait(step.every):
                        return
                    self.wfile.write(data[k:k + 1])
                    self.wfile.flush()
            else:
                self.wfile.write(data)
        except OSError:  # the client gave up (its deadline): expected
            pass
