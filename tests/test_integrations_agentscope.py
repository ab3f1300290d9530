"""The AgentScope 2.0 integration in a real agent loop.

A real ``agentscope.agent.Agent`` talks through AgentScope's ``OpenAIChatModel`` to a scripted
model served on 127.0.0.1 (``chat_server``), over several sessions, each opening the SQLite
file afresh as a restarted process would. The tests assert what the model was shown (the
requests it received), what was stored, and what a restarted agent recalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

pytest.importorskip("agentscope", reason="needs the agentscope extra: pip install '.[agentscope]'")

from agentscope.agent import Agent
from agentscope.credential import OpenAICredential
from agentscope.embedding import EmbeddingCacheBase
from agentscope.message import UserMsg
from agentscope.model import OpenAIChatModel
from agentscope.permission import PermissionBehavior, PermissionDecision
from agentscope.state import AgentState
from agentscope.tool import FunctionTool, ToolChunk, Toolkit

from chat_server import FakeChat, Step, serve_chat
from loopback import serve_http
from memoryspace import MemorySpace
from memoryspace.embed.cache import EmbeddingCache
from memoryspace.errors import InvalidInput
from memoryspace.integrations.agentscope import (
    MemorySpaceCompaction,
    MemorySpaceEmbeddingCache,
    MemorySpaceMiddleware,
)
from memoryspace.models import LinkType

ALLOW = PermissionDecision(behavior=PermissionBehavior.ALLOW, message="test tool")


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    with serve_chat() as fake:
        yield fake


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> Step:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return Step("reply", "", tool_calls=[{"id": call_id, "type": "function", "function": function}])


def shown(body: dict[str, Any]) -> str:
    """Everything the model was shown in one request, as one string."""
    return json.dumps(body["messages"], ensure_ascii=False)


def latest_user_text(body: dict[str, Any]) -> str:
    """What the user said last (not the reminders and memories AgentScope adds as user turns)."""
    for message in reversed(body["messages"]):
        if message["role"] == "user" and message.get("name"):
            return str(message["content"][0]["text"])
    return ""


def last_is_tool_result(body: dict[str, Any]) -> bool:
    return body["messages"][-1]["role"] == "tool" or any(
        message["role"] == "tool" for message in body["messages"][-2:]
    )


async def make_agent(
    url: str,
    middlewares: list[Any],
    *,
    state: AgentState | None = None,
    extra_tools: list[Any] = (),  # type: ignore[assignment]
) -> Agent:
    model = OpenAIChatModel(
        credential=OpenAICredential(api_key="test-key", base_url=url),
        model="scripted",
        stream=False,
        max_retries=0,
    )
    tools = [tool for mw in middlewares for tool in await mw.list_tools()]
    return Agent(
        name="assistant",
        system_prompt="You are a helpful assistant.",
        model=model,
        toolkit=Toolkit(tools=[*tools, *extra_tools]),
        middlewares=middlewares,
        state=state,
    )


def run(coro_factory: Callable[[], Any]) -> Any:
    return asyncio.run(coro_factory())


def test_memories_are_recorded_injected_and_recalled_across_restarts(
    tmp_path: Path, chat: FakeChat
) -> None:
    path = tmp_path / "agent.db"

    def respond(body: dict[str, Any]) -> str | Step:
        text = shown(body)
        if last_is_tool_result(body):
            return "Noted."
        if latest_user_text(body).startswith("Please remember"):
            return tool_call(
                "add_memory",
                {"thinking": "a health fact", "content": ["The user is allergic to hazelnuts."]},
            )
        if "allergic to hazelnuts" in text:
            return "No hazelnut cake: you are allergic to hazelnuts."
        return "Sure!"

    chat.respond = respond

    async def session_one() -> list[str]:
        with MemorySpace.open(path, embedder="hashing") as ms:
            memory = MemorySpaceMiddleware(ms, user="tobi", agent="assistant", session="s1")
            agent = await make_agent(chat.url, [memory])
            first = await agent.reply(UserMsg(name="tobi", content="Hi, I walk my dog Rex daily."))
            second = await agent.reply(
                UserMsg(name="tobi", content="Please remember that I am allergic to hazelnuts.")
            )
            facts = [m.content for m in ms.scan(user="tobi", kind="fact")]
            assert any("allergic to hazelnuts" in fact for fact in facts)
            pages = [m.content for m in ms.scan(user="tobi", kind="turn")]
            assert any("walk my dog Rex" in page and "Sure!" in page for page in pages)
            return [first.get_text_content() or "", second.get_text_content() or ""]

    assert run(session_one) == ["Sure!", "Noted."]
    tools_offered = {tool["function"]["name"] for tool in chat.bodies()[0]["tools"]}
    assert {"search_memory", "add_memory", "forget_memory"} <= tools_offered
    assert "search_memory" in chat.bodies()[0]["messages"][0]["content"][0]["text"]

    chat.requests.clear()

    async def session_two() -> str:
        with MemorySpace.open(path, embedder="hashing") as ms:  # a restarted agent
            memory = MemorySpaceMiddleware(ms, user="tobi", agent="assistant", session="s2")
            agent = await make_agent(chat.url, [memory])
            reply = await agent.reply(
                UserMsg(
                    name="tobi", content="Am I allergic to anything? I want a cake with hazelnuts."
                )
            )
            return reply.get_text_content() or ""

    assert run(session_two) == "No hazelnut cake: you are allergic to hazelnuts."
    (request,) = chat.bodies()
    text = shown(request)
    assert "Relevant memories from past conversations" in text
    assert "The user is allergic to hazelnuts." in text
    assert text.index("I want a cake") < text.index("Relevant memories")  # after the input
    assert "walk my dog Rex" not in text  # below the relevance floor: not shown

    chat.requests.clear()

    async def other_user() -> str:
        with MemorySpace.open(path, embedder="hashing") as ms:
            memory = MemorySpaceMiddleware(ms, user="maren", agent="assistant")
            agent = await make_agent(chat.url, [memory])
            reply = await agent.reply(
                UserMsg(
                    name="maren", content="Am I allergic to anything? I want a cake with hazelnuts."
                )
            )
            return reply.get_text_content() or ""

    assert run(other_user) == "Sure!"  # Tobi's memories are not shown to Maren
    assert "The user is allergic" not in shown(chat.bodies()[0])


def test_search_and_forget_tools_in_the_loop(tmp_path: Path, chat: FakeChat) -> None:
    with MemorySpace.open(tmp_path / "a.db", embedder="hashing") as ms:
        fact = ms.add("Tobi's sister is called Ines", user="tobi", kind="fact")
        ms.add("Maren's sister is called Lotte", user="maren", kind="fact")
        chat.script = [
            tool_call("search_memory", {"keywords": ["sister"]}),
            Step("reply", "Your sister is Ines."),
            tool_call("forget_memory", {"ids": [fact.id]}, call_id="call_2"),
            Step("reply", "Forgotten."),
        ]

        async def go() -> None:
            memory = MemorySpaceMiddleware(ms, user="tobi", mode="agent_control")
            agent = await make_agent(chat.url, [memory])
            await agent.reply(UserMsg(name="tobi", content="What is my sister called?"))
            await agent.reply(UserMsg(name="tobi", content="Forget my sister's name."))

        run(go)
        bodies = chat.bodies()
        search_result = shown(bodies[1])
        assert "Ines" in search_result and "Lotte" not in search_result
        assert fact.id in search_result
        assert "Relevant memories" not in shown(bodies[0])  # agent_control: tools only
        assert ms.count(user="tobi", kind="fact") == 0
        assert ms.count(user="maren", kind="fact") == 1
        assert ms.count(user="tobi", kind="turn") == 0  # agent_control records nothing


def test_large_tool_output_is_offloaded_to_a_record_and_readable(
    tmp_path: Path, chat: FakeChat
) -> None:
    log_lines = [f"line {i}: request {i} served in {i % 7} ms" for i in range(400)]

    def read_log() -> ToolChunk:
        """Read the server log."""
        from agentscope.message import TextBlock

        return ToolChunk(content=[TextBlock(text="\n".join(log_lines))])

    with MemorySpace.open(tmp_path / "a.db", embedder="hashing") as ms:
        compaction = MemorySpaceCompaction(ms, user="ops", tool_output_tokens=200)
        chat.script = [tool_call("read_log", {}), Step("reply", "The log is long.")]

        async def go() -> Agent:
            agent = await make_agent(
                chat.url,
                [compaction],
                extra_tools=[FunctionTool(read_log, name="read_log", permission=ALLOW)],
            )
            await agent.reply(UserMsg(name="ops", content="What does the log say?"))
            return agent

        agent = run(go)
        (record_id,) = compaction.state_dict()["offloaded"]
        record = ms.get(record_id)
        assert record.content == "\n".join(log_lines)
        assert record.kind == "working" and record.user == "ops"
        after_tool = shown(chat.bodies()[1])
        assert f"stored as memory {record_id}" in after_tool
        assert "line 0: request 0" in after_tool and "line 399" not in after_tool
        assert agent.state.middle_context["memoryspace_short_term"]["offloaded"] == [record_id]


def test_history_over_the_threshold_is_compacted_into_a_linked_summary(
    tmp_path: Path, chat: FakeChat
) -> None:
    chat.respond = lambda body: "Understood, " + body["messages"][-2]["content"][0]["text"][:40]
    topics = [
        "My flight to Lisbon leaves on Friday at nine in the morning.",
        "I booked a room at the Alfama guesthouse for four nights.",
        "Remind me that the museum is closed on Mondays.",
        "I want to try grilled sardines at a local tasca.",
        "My colleague Jonas joins me on Saturday evening.",
        "We plan a day trip to Sintra on Sunday.",
    ]
    with MemorySpace.open(tmp_path / "a.db", embedder="hashing") as ms:
        compaction = MemorySpaceCompaction(
            ms, user="ana", max_context_tokens=120, keep_recent=2, summary_sentences=3
        )

        async def go() -> AgentState:
            agent = await make_agent(chat.url, [compaction])
            for topic in topics:
                await agent.reply(UserMsg(name="ana", content=topic))
            return agent.state

        state = run(go)
        summaries = compaction.state_dict()["summaries"]
        assert summaries and compaction.state_dict()["compactions"] == len(summaries)
        summary = ms.get(summaries[-1])
        assert summary.kind == "summary"
        assert summary.links and all(link.type is LinkType.DERIVED_FROM for link in summary.links)
        assert summary.id in state.summary
        restored = compaction.restore_messages(summaries[0])
        assert restored[0].get_text_content() == topics[0]  # the original message, exactly
        assert len(state.context) < 2 * len(topics)  # 6 exchanges, fewer messages kept
        last_request = shown(chat.bodies()[-1])
        assert "Compacted earlier history" in last_request  # the model sees the summary
        assert topics[0] not in json.dumps([m.model_dump(mode="json") for m in state.context])

        # The agent's memory state round-trips: AgentState (with the middleware's part) and
        # the middleware's own state_dict.
        saved = state.model_dump(mode="json")
        reloaded = AgentState.model_validate(saved)
        assert reloaded.summary == state.summary
        fresh = MemorySpaceCompaction(ms, user="ana", max_context_tokens=120, keep_recent=2)
        fresh.load_state_dict(compaction.state_dict())
        assert fresh.state_dict() == compaction.state_dict()
        with pytest.raises(InvalidInput):
            fresh.load_state_dict({"offloaded": "x", "summaries": [], "compactions": 0})

        async def resume() -> None:
            other = MemorySpaceCompaction(ms, user="ana", max_context_tokens=120, keep_recent=2)
            agent = await make_agent(chat.url, [other], state=reloaded)
            await agent.reply(UserMsg(name="ana", content="What did I plan for Sunday?"))
            assert other.state_dict()["summaries"][: len(summaries)] == summaries

        chat.requests.clear()
        run(resume)
        assert "Compacted earlier history" in shown(chat.bodies()[0])


def test_embedding_cache_is_an_agentscope_cache_sharing_memoryspace_entries(
    tmp_path: Path,
) -> None:
    shared = EmbeddingCache(tmp_path / "embeddings.sqlite", max_entries=3)
    cache = MemorySpaceEmbeddingCache(shared)
    assert isinstance(cache, EmbeddingCacheBase)
    request = {
        "input": ["alpha", "beta"],
        "model": "text-embedding-3-small",
        "encoding_format": "float",
    }

    async def go() -> None:
        assert await cache.retrieve(request) is None
        await cache.store([[1.0, 0.0], [0.0, 1.0]], request)
        assert await cache.retrieve(request) == [[1.0, 0.0], [0.0, 1.0]]
        # MemorySpace's OpenAIEmbedder (model id openai:<model>) sees the same entries ...
        (beta,) = shared.get_many("openai:text-embedding-3-small", ["beta"])
        assert beta is not None and beta.tolist() == [0.0, 1.0]
        # ... and what MemorySpace cached is a hit for AgentScope.
        shared.put_many("openai:text-embedding-3-small", ["gamma"], np.array([[0.5, 0.5]]))
        single = {**request, "input": ["gamma"]}
        assert await cache.retrieve(single) == [[0.5, 0.5]]
        # Other request options are part of the key.
        assert await cache.retrieve({**request, "dimensions": 2}) is None
        # Bounded by entries, least recently used out first.
        await cache.retrieve(request)  # alpha and beta are now the most recent
        await cache.store([[0.1, 0.2]], {**request, "input": ["delta"]})
        assert await cache.retrieve(single) is None
        assert shared.stats().entries == 3
        # Not overwritten unless asked.
        await cache.store([[9.0, 9.0]], {**request, "input": ["delta"]})
        (kept,) = await cache.retrieve({**request, "input": ["delta"]})
        assert kept == pytest.approx([0.1, 0.2])
        await cache.store([[9.0, 9.0]], {**request, "input": ["delta"]}, overwrite=True)
        assert await cache.retrieve({**request, "input": ["delta"]}) == [[9.0, 9.0]]
        # Any other JSON identifier is stored whole.
        other = {"kind": "multimodal", "items": [1, 2]}
        await cache.store([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], other)
        assert await cache.retrieve(other) == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        await cache.remove(other)
        assert await cache.retrieve(other) is None
        with pytest.raises(FileNotFoundError):
            await cache.remove(other)
        with pytest.raises(InvalidInput):
            await cache.store([[1.0]], request)  # one vector for two texts
        await cache.clear()
        assert shared.stats().entries == 0

    asyncio.run(go())
    shared.close()
    reopened = MemorySpaceEmbeddingCache(path=tmp_path / "own.sqlite", max_entries=10)
    asyncio.run(reopened.store([[1.0]], {"input": ["x"], "model": "m"}))
    reopened.cache.close()
    again = MemorySpaceEmbeddingCache(path=tmp_path / "own.sqlite")
    assert asyncio.run(again.retrieve({"input": ["x"], "model": "m"})) == [[1.0]]
    again.cache.close()


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "a.db", embedder="hashing") as ms:
        with pytest.raises(InvalidInput, match="user"):
            MemorySpaceMiddleware(ms, user=" ")
        with pytest.raises(InvalidInput, match="mode"):
            MemorySpaceMiddleware(ms, user="u", mode="sometimes")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="budget"):
            MemorySpaceMiddleware(ms, user="u", budget=0)
        with pytest.raises(InvalidInput, match="k"):
            MemorySpaceMiddleware(ms, user="u", k=0)
        with pytest.raises(InvalidInput, match="MemorySpace"):
            MemorySpaceMiddleware("a.db", user="u")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="keep_recent"):
            MemorySpaceCompaction(ms, user="u", keep_recent=0)
        with pytest.raises(InvalidInput, match="not both"):
            MemorySpaceEmbeddingCache(EmbeddingCache(None), path=tmp_path / "x.sqlite")


def test_example_runs_offline_and_recalls_across_sessions(tmp_path: Path) -> None:
    script = Path(__file__).parent.parent / "examples" / "agentscope_agent.py"
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "[friday] helper: Not with hazelnuts: you told me you are allergic" in done.stdout
    with MemorySpace.open(tmp_path / "agentscope_memory.db", embedder="hashing") as ms:
        sessions = {m.session for m in ms.scan(user="tobi", kind="turn")}
    assert {"monday", "friday"} <= sessions


def unit(n: int) -> list[float]:
    return [math.cos(n), math.sin(n), 0.0]


class EmbeddingServer(BaseHTTPRequestHandler):
    """``/v1/embeddings`` on 127.0.0.1: a unit vector per text (from its length; OpenAI's are
    unit vectors too, which MemorySpace's cache assumes); records every text it embeds."""

    embedded: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        EmbeddingServer.embedded.extend(body["input"])
        data = [
            {"object": "embedding", "index": i, "embedding": unit(len(text))}
            for i, text in enumerate(body["input"])
        ]
        reply = json.dumps(
            {"object": "list", "data": data, "model": body["model"], "usage": {"total_tokens": 1}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_agentscope_and_memoryspace_embedders_share_cached_vectors(tmp_path: Path) -> None:
    from agentscope.embedding import OpenAIEmbeddingModel

    from memoryspace.embed.cache import CachedEmbedder
    from memoryspace.embed.openai import OpenAIEmbedder

    EmbeddingServer.embedded.clear()
    shared = EmbeddingCache(tmp_path / "embeddings.sqlite")
    with serve_http(EmbeddingServer) as (_, base), contextlib.closing(shared):
        url = f"{base}/v1"
        agentscope_model = OpenAIEmbeddingModel(
            credential=OpenAICredential(api_key="k", base_url=url),
            model="text-embedding-3-small",
            dimensions=3,
            pass_dimensions=False,  # MemorySpace's OpenAIEmbedder sends no dimensions either
            embedding_cache=MemorySpaceEmbeddingCache(shared),
            max_retries=0,
        )
        ours = CachedEmbedder(
            OpenAIEmbedder("text-embedding-3-small", base_url=url, api_key="k", dimension=3),
            shared,
        )

        first = asyncio.run(agentscope_model(["alpha", "be"]))
        assert EmbeddingServer.embedded == ["alpha", "be"]
        assert np.allclose(ours.embed(["alpha", "be"]), first.embeddings)  # no request: a hit
        assert EmbeddingServer.embedded == ["alpha", "be"]

        ours.embed(["gamma-ray"])  # MemorySpace embeds (one request) ...
        again = asyncio.run(agentscope_model(["gamma-ray"]))  # ... AgentScope hits its entry
        assert EmbeddingServer.embedded == ["alpha", "be", "gamma-ray"]
        assert again.source == "cache"
        assert again.embeddings[0] == pytest.approx(unit(len("gamma-ray")), abs=1e-6)
