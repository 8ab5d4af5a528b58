"""A scripted fake of the providers' HTTP APIs (Anthropic's /v1/messages, Ollama's /api/chat, Mistral's
/v1/chat/completions, OpenAI's shape, and Gemini's …/models/MODEL:generateContent), so LangChain clients
can be tested against 127.0.0.1 and nothing ever reaches the internet. Not a test module.

`ProviderServer(script)` answers each request with the next entry of `script`: an HTTP status code (an
error reply), a float (sleep that many seconds, then a 503: a server slower than any sane limit),
`(text, [(tool_name, args), …])` in the provider's own wire format (in OpenAI's, `args` given as a str is
sent as the arguments text itself, e.g. '[1, 2]'), or one of the faults below — `Drip` (a whole reply
sent a byte at a time), `RetryAfter` (429 or 503 with a Retry-After header), `Malformed` (200 with a body
that is not JSON); it keeps every request (path, headers, JSON body, monotonic time `at`) in `requests`.

Usage: every reply reports 100 input and 20 output tokens, unless the server is made with
`measured=True`: then input tokens are counted from the request (CHARS_PER_TOKEN characters a token) and
prompt caching is simulated as the providers document it — Anthropic caches the prefix up to each
`cache_control` marker and reads the longest prefix cached before (`cache_read_input_tokens`,
`cache_creation_input_tokens`, `input_tokens` the rest); OpenAI caches automatically, reporting as
`prompt_tokens_details.cached_tokens` the longest prefix shared with an earlier request, in steps of 128
tokens from 1024 on. Replies name the model snapshot `MODEL_SNAPSHOT`.
"""

from __future__ import annotations

import json
import os
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


MODEL_SNAPSHOT = "fake-model-2026-01-01"
CHARS_PER_TOKEN = 4


def _tokens(value) -> int:
    return len(json.dumps(value, sort_keys=True)) // CHARS_PER_TOKEN + 1


def _output_tokens(text: str, calls: list) -> int:
    return _tokens([text, calls])


def anthropic_reply(i: int, text: str, calls: list, usage=None) -> dict:
    content = ([{"type": "text", "text": text}] if text else []) + [
        {"type": "tool_use", "id": f"toolu_{i}_{k}", "name": name, "input": args} for k, (name, args) in enumerate(calls)]
    return {"id": f"msg_{i}", "type": "message", "role": "assistant", "model": MODEL_SNAPSHOT, "content": content,
            "stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None,
            "usage": usage or {"input_tokens": 100, "output_tokens": 20}}


def ollama_reply(i: int, text: str, calls: list, usage=None) -> dict:
    return {"model": MODEL_SNAPSHOT, "created_at": "2026-01-01T00:00:00Z", "done": True, "done_reason": "stop",
            "message": {"role": "assistant", "content": text,
                        "tool_calls": [{"function": {"name": name, "arguments": args}} for name, args in calls]},
            "prompt_eval_count": 100, "eval_count": 20}


def openai_reply(i: int, text: str, calls: list, usage=None) -> dict:
    """OpenAI's chat-completions shape, which Mistral's API shares (tool-call ids: 9 letters/digits)."""
    return {"id": f"cmpl-{i}", "object": "chat.completion", "created": 0, "model": MODEL_SNAPSHOT,
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                         "message": {"role": "assistant", "content": text, "tool_calls": [
                             {"id": f"call{i:02d}{k:03d}", "type": "function",
                              "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                             for k, (name, args) in enumerate(calls)]}}],
            "usage": usage or {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}


def anthropic_usage(body: dict, cache: dict, out_tokens: int) -> dict:
    """Anthropic's usage for a request, with its prompt cache (`cache`: prefix hash -> tokens) updated."""
    import hashlib

    system = body.get("system") or []
    blocks = list(body.get("tools") or []) + ([{"type": "text", "text": system}] if isinstance(system, str) else system)
    for m in body.get("messages") or []:
        content = m["content"]
        blocks += [{"type": "text", "text": content}] if isinstance(content, str) else content
    total, read, marks, digest = 0, 0, [], hashlib.sha256()
    for block in blocks:
        digest.update(json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True).encode())
        total += _tokens(block)
        key = digest.hexdigest()
        read = max(read, cache.get(key, 0))
        if "cache_control" in block:
            marks.append((key, total))
    write = 0
    for key, upto in marks:
        if key not in cache:
            cache[key] = upto
            write = max(write, upto - read)
    return {"input_tokens": total - read - write, "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write, "output_tokens": out_tokens}


def openai_usage(body: dict, seen: list, out_tokens: int) -> dict:
    """OpenAI's usage for a request: automatic caching of the longest prefix shared with an earlier one."""
    text = json.dumps({"tools": body.get("tools"), "messages": body.get("messages")}, sort_keys=True)
    shared = max((len(os.path.commonprefix([text, old])) for old in seen), default=0)
    seen.append(text)
    cached = shared // CHARS_PER_TOKEN
    cached = cached - cached % 128 if cached >= 1024 else 0
    total = len(text) // CHARS_PER_TOKEN + 1
    return {"prompt_tokens": total, "completion_tokens": out_tokens, "total_tokens": total + out_tokens,
            "prompt_tokens_details": {"cached_tokens": cached}}


def gemini_reply(i: int, text: str, calls: list, usage=None) -> dict:
    """Gemini's generateContent shape (the google-genai client's REST replies)."""
    parts = ([{"text": text}] if text else []) + [{"functionCall": {"name": name, "args": args}} for name, args in calls]
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage or {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120},
            "modelVersion": MODEL_SNAPSHOT}


FORMATS = {"/v1/messages": anthropic_reply, "/api/chat": ollama_reply, "/v1/chat/completions": openai_reply}
GEMINI_METHOD = ":generateContent"
"""Gemini's path ends with the method: /v1beta/models/MODEL:generateContent."""


def reply_format(path: str):
    """The reply shape of a request path: Gemini's method, a known path, or OpenAI's shape at any
    chat-completions path (Azure's carries the deployment: /openai/deployments/D/chat/completions)."""
    path = path.split("?")[0]
    if path.endswith(GEMINI_METHOD):
        return gemini_reply
    return FORMATS.get(path) or (openai_reply if path.endswith("/chat/completions") else None)


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timed-out call) is expected here, not a failure to print

    def __init__(self, script: list, measured: bool = False):
        self.script = list(script)
        self.measured = measured
        self.cache: dict = {}
        """Anthropic's simulated prompt cache (measured mode): prefix hash -> tokens."""
        self.seen: list = []
        """The earlier requests' text (measured mode), for OpenAI's automatic caching."""
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
        fmt = reply_format(self.path)
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
            usage = None
            if server.measured:
                out = _output_tokens(*step)
                with server.lock:
                    usage = (anthropic_usage(body, server.cache, out) if fmt is anthropic_reply
                             else openai_usage(body, server.seen, out) if fmt is openai_reply else None)
            status, data = 200, json.dumps(fmt(i, *step, usage=usage)).encode()
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
