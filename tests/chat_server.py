"""A real HTTP server on 127.0.0.1 that speaks ``/v1/chat/completions`` with scripted replies.

Shared by the LLM client and processor tests. Each request takes the next ``Step`` of the script;
when the script is empty, ``FakeChat.respond(body)`` answers (by default ``"ok"``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loopback import serve_http

ROUTE = "/v1/chat/completions"
USAGE = (11, 7)  # prompt and completion tokens reported for every answered request


@dataclass
class Step:
    """What the server does with one request.

    kind: ``reply`` (200 with ``content``), ``status`` (``status`` with an error ``message``),
    ``slow`` (waits until released: the client times out), ``raw`` (200 with a non-JSON body),
    ``hold`` (answers ``content`` after ``hold`` seconds, to observe concurrency). A reply with
    ``tool_calls`` (OpenAI's shape) asks the client to call tools.
    """

    kind: str = "reply"
    content: str = "ok"
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hold: float = 0.0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # OpenAI tool_calls


@dataclass
class FakeChat:
    url: str
    script: list[Step] = field(default_factory=list)
    respond: Callable[[dict[str, Any]], str | Step] = lambda body: "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    max_active: int = 0

    def next_step(self, body: dict[str, Any]) -> Step:
        with self.lock:
            if self.script:
                return self.script.pop(0)
        answer = self.respond(body)
        return answer if isinstance(answer, Step) else Step("reply", answer)

    def bodies(self) -> list[dict[str, Any]]:
        return [request["body"] for request in self.requests]


def completion(
    model: str, content: str, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": USAGE[0],
            "completion_tokens": USAGE[1],
            "total_tokens": sum(USAGE),
        },
    }


def prompt(body: dict[str, Any]) -> str:
    """The last message of a request: the task the client asked."""
    return str(body["messages"][-1]["content"])


def batch_reply(body: dict[str, Any]) -> str:
    """Answers a batch of turns for ``LLMProcessors.extract_facts_many``: every turn mentioning
    'salsa' states that its speaker likes salsa."""
    turns = [line for line in prompt(body).splitlines() if line.startswith("[")]
    items = []
    for line in turns:
        index = int(line[1 : line.index("]")])
        speaker = line[line.index("]") + 2 : line.index(":")]
        facts = []
        if "salsa" in line:
            facts.append(
                {"subject": speaker, "relation": "likes", "object": "salsa", "kind": "preference"}
            )
        items.append({"index": index, "facts": facts})
    return json.dumps({"turns": items})


def make_handler(api: FakeChat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        def send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with api.lock:
                api.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
            if self.path != ROUTE:
                self.send(404, json.dumps({"error": {"message": "no such route"}}).encode())
                return
            step = api.next_step(body)
            if step.kind == "slow":
                api.release.wait(timeout=10)  # the client gives up long before this
            if step.kind == "status":
                error = {"error": {"message": step.message or f"scripted {step.status}"}}
                self.send(step.status, json.dumps(error).encode(), step.headers)
                return
            if step.kind == "raw":
                self.send(200, b"<html>not json</html>")
                return
            if step.kind == "hold":
                with api.lock:
                    api.active += 1
                    api.max_active = max(api.max_active, api.active)
                time.sleep(step.hold)
                with api.lock:
                    api.active -= 1
            reply = completion(body["model"], step.content, step.tool_calls)
            self.send(200, json.dumps(reply).encode())

    return Handler


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has hung up; writing to it fails, and that is expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve_chat() -> Iterator[FakeChat]:
    """Start the server on a free port; yield its state with ``url`` = ``http://.../v1``."""
    with serve_http(server_class=QuietServer) as (server, url):
        fake = FakeChat(url=f"{url}/v1")
        server.RequestHandlerClass = make_handler(fake)
        try:
            yield fake
        finally:
            fake.release.set()  # a held ("slow") request returns before the server closes
