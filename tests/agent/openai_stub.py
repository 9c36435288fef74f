"""A local HTTP server that speaks the OpenAI chat-completions wire format.

A stand-in only because no LLM runs here: it answers POST /v1/chat/completions
with the scripted turns, as server-sent events in the exact chunk format
(content deltas, tool_calls deltas split across chunks, finish_reason, [DONE]),
and records every request body so tests can check what the agent sent.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def text(content, pieces=3):
    """A turn that streams `content` in a few deltas."""
    return {"content": content, "pieces": pieces}


def tool_calls(*calls):
    """A turn that asks for tool calls: (name, arguments) where arguments is a dict or a raw string."""
    return {"tool_calls": [(name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls]}


def error(status, message="server error"):
    return {"status": status, "message": message}


class OpenAIStub:
    def __init__(self, turns=()):
        self.turns = list(turns)
        self.requests = []
        self.headers = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                turn = stub.turns.pop(0) if stub.turns else text("(stub has no more turns)")
                if "status" in turn:
                    return self._json(turn["status"], {"error": {"message": turn["message"], "type": "server_error"}})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for chunk in _chunks(turn, body.get("model", "stub")):
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _chunk(model, delta, finish=None):
    return {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def _chunks(turn, model):
    yield _chunk(model, {"role": "assistant", "content": ""})
    if "content" in turn:
        content, n = turn["content"], max(1, turn["pieces"])
        step = max(1, -(-len(content) // n))
        for i in range(0, len(content), step):
            yield _chunk(model, {"content": content[i:i + step]})
        yield _chunk(model, {}, "stop")
        return
    for index, (name, arguments) in enumerate(turn["tool_calls"]):
        yield _chunk(model, {"tool_calls": [{"index": index, "id": f"call_{index}", "type": "function",
                                             "function": {"name": name, "arguments": ""}}]})
        half = len(arguments) // 2  # arguments arrive split, as real servers send them
        for piece in (arguments[:half], arguments[half:]):
            yield _chunk(model, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield _chunk(model, {}, "tool_calls")
