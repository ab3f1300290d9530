"""An AgentScope 2.0 agent with MemorySpace long- and short-term memory. Offline.

    pip install 'memoryspace[agentscope]'
    python examples/agentscope_agent.py

The "LLM" is a scripted server on 127.0.0.1 that speaks the OpenAI chat API, so the agent uses
AgentScope's real ``OpenAIChatModel``. Session 1 tells the agent a fact (recorded as a
conversation turn); session 2, a new agent on the same database, is shown that memory before it
answers. The database is ``agentscope_memory.db`` in the working directory.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentscope.agent import Agent
from agentscope.credential import OpenAICredential
from agentscope.message import UserMsg
from agentscope.model import OpenAIChatModel
from agentscope.tool import Toolkit

from memoryspace import MemorySpace
from memoryspace.integrations.agentscope import MemorySpaceCompaction, MemorySpaceMiddleware


def scripted_answer(messages: list[dict[str, Any]]) -> str:
    """The scripted model: it answers from the memories it is shown."""
    shown = json.dumps(messages)
    if "allergic to hazelnuts" in shown and "cake" in messages[1]["content"][0]["text"]:
        return "Not with hazelnuts: you told me you are allergic to them. Lemon cake?"
    return "Thanks, I'll keep that in mind."


class ScriptedChat(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = scripted_answer(body["messages"])
        reply = {
            "id": "scripted",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def session(url: str, text: str, session_id: str) -> str:
    with MemorySpace.open("agentscope_memory.db", embedder="hashing") as ms:
        memory = MemorySpaceMiddleware(ms, user="tobi", agent="helper", session=session_id)
        short_term = MemorySpaceCompaction(ms, user="tobi", agent="helper", session=session_id)
        agent = Agent(
            name="helper",
            system_prompt="You are a helpful assistant.",
            model=OpenAIChatModel(
                credential=OpenAICredential(api_key="offline", base_url=url),
                model="scripted",
                stream=False,
            ),
            toolkit=Toolkit(tools=[*await memory.list_tools(), *await short_term.list_tools()]),
            middlewares=[memory, short_term],
        )
        reply = await agent.reply(UserMsg(name="tobi", content=text))
        return reply.get_text_content() or ""


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedChat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        for session_id, text in [
            ("monday", "By the way, I am allergic to hazelnuts."),
            ("friday", "Am I allergic to anything? Bake me a cake with hazelnuts!"),
        ]:
            print(f"[{session_id}] tobi: {text}")
            print(f"[{session_id}] helper: {asyncio.run(session(url, text, session_id))}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
