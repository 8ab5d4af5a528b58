"""A scripted fake of the providers' HTTP APIs (Anthropic's /v1/messages, Ollama's /api/chat, and
Mistral's /v1/chat/completions, OpenAI's shape), so LangChain clients can be tested against 127.0.0.1 and
nothing ever reaches the internet. Not a test module.

`ProviderServer(script)` answers each request with the next entry of `script`: an HTTP status code (an
error reply), a float (sleep that many seconds, then a 503: a server slower than any sane limit), or
`(text, [(tool_name, args), …])` in the provider's own wire format; it keeps every request (path,
headers, JSON body) in `requests`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            i = len(server.requests)
            step = server.script.pop(0) if server.script else 500
        if isinstance(step, float):  # a server that takes this long to say anything, then fails
            if server.closed.wait(step):
                return
            step = 503
        path = self.path.split("?")[0]
        # OpenAI's shape at any chat-completions path (Azure's carries the deployment: /openai/deployments/D/…)
        fmt = FORMATS.get(path) or (openai_reply if path.endswith("/chat/completions") else None)
        if fmt is None or isinstance(step, int):
            status = 404 if fmt is None else step
            data = json.dumps({"type": "error", "error": {"type": "api_error", "message": "scripted failure"}}).encode()
        else:
            status, data = 200, json.dumps(fmt(i, *step)).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
