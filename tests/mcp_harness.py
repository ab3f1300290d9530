"""Helpers for the MCP tests: a real uvicorn on a free loopback port, clients with a bearer
token, and one scenario that calls every tool and checks the database behind the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp

from loopback import free_port, serve_asgi, wait_for_port
from memoryspace import MemorySpace, NotFound

__all__ = ["exercise_every_tool", "free_port", "http_client", "serving", "wait_for_port"]
from memoryspace.mcp import TOOL_NAMES


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """``app`` on a real uvicorn at 127.0.0.1 in a thread; yields the MCP endpoint URL."""
    with serve_asgi(app) as url:
        yield f"{url}/mcp"


def http_client(url: str, token: str | None) -> Client:
    """An SDK client for the streamable-HTTP endpoint ``url``, sending ``token`` if given."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120))
    return Client(streamable_http_client(url, http_client=http))


def payload(result: Any) -> dict[str, Any]:
    """A successful tool result's structured content."""
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def error_text(result: Any) -> str:
    """A failed tool result's message."""
    assert result.is_error, result.structured_content
    return "".join(getattr(block, "text", "") for block in result.content)


@contextmanager
def database(db: Path) -> Iterator[MemorySpace]:
    """A second, independent handle on the server's database, to check what it stored."""
    with MemorySpace.open(db, embedder="hashing", create=False) as ms:
        yield ms


async def exercise_every_tool(client: Client, db: Path) -> None:
    """List the tools, call each one, and check its effect in the database."""
    listed = (await client.list_tools()).tools
    assert {tool.name for tool in listed} == set(TOOL_NAMES)
    for tool in listed:
        assert tool.description and len(tool.description) > 60, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["properties"], tool.name

    added = payload(
        await client.call_tool(
            "add_memory",
            {"content": "Alice is allergic to peanuts", "user": "alice", "tags": ["health"]},
        )
    )
    with database(db) as ms:
        stored = ms.get(added["id"])
    assert (stored.content, stored.user, str(stored.kind)) == (
        "Alice is allergic to peanuts",
        "alice",
        "fact",
    )
    assert stored.tags == ("health",)

    hits = payload(
        await client.call_tool(
            "search_memory", {"query": "allergic to peanuts", "user": "alice", "k": 3}
        )
    )["hits"]
    assert hits[0]["id"] == added["id"]
    assert 0.0 < hits[0]["score"] <= 1.0
    assert all(hit["user"] == "alice" for hit in hits)

    context = payload(
        await client.call_tool(
            "get_context", {"query": "what is alice allergic to", "user": "alice", "budget": 200}
        )
    )
    assert "peanuts" in context["text"]
    assert added["id"] in context["source_ids"]
    assert 0 < context["tokens"] <= 200

    pinned = payload(await client.call_tool("pin_memory", {"id": added["id"]}))
    assert pinned["pinned"] is True
    with database(db) as ms:
        assert ms.get(added["id"]).pinned is True

    edited = payload(
        await client.call_tool(
            "update_memory",
            {"id": added["id"], "content": "Alice is severely allergic to peanuts"},
        )
    )
    assert edited["content"] == "Alice is severely allergic to peanuts"
    with database(db) as ms:
        now = ms.get(added["id"])
    assert (now.content, now.pinned, now.tags) == (edited["content"], True, ("health",))

    history = payload(await client.call_tool("memory_history", {"id": added["id"]}))["changes"]
    assert [change["op"] for change in history] == ["add", "update", "update"]
    assert history[0]["after"] == "Alice is allergic to peanuts"
    assert history[2]["after"] == "Alice is severely allergic to peanuts"

    turn = payload(
        await client.call_tool(
            "add_turn",
            {
                "user": "alice",
                "user_text": "I adopted a greyhound called Biscuit",
                "agent_text": "Biscuit is a lovely name!",
            },
        )
    )
    assert turn["short_term_pages"] >= 1
    with database(db) as ms:
        page = ms.get(turn["page"]["id"])
    assert page.user == "alice" and "Biscuit" in page.content and str(page.kind) == "turn"

    listed_ids = [
        memory["id"]
        for memory in payload(await client.call_tool("list_memories", {"user": "alice"}))[
            "memories"
        ]
    ]
    with database(db) as ms:
        expected = [memory.id for memory in ms.scan(user="alice", newest_first=True)]
    assert listed_ids == expected[:20]
    assert {added["id"], turn["page"]["id"]} <= set(listed_ids)

    preview = payload(
        await client.call_tool("forget_memory", {"ids": [added["id"]], "dry_run": True})
    )
    assert [m["id"] for m in preview["would_forget"]] == [added["id"]]
    with database(db) as ms:
        assert ms.get(added["id"]).pinned  # still there
    forgotten = payload(await client.call_tool("forget_memory", {"ids": [added["id"]]}))
    assert [m["id"] for m in forgotten["forgotten"]] == [added["id"]]
    with database(db) as ms:
        try:
            ms.get(added["id"])
        except NotFound:
            pass
        else:
            raise AssertionError("forget_memory left the memory in the database")

    phone = payload(
        await client.call_tool(
            "add_memory", {"content": "Alice's old phone number is 555 0199", "user": "alice"}
        )
    )
    by_query = payload(
        await client.call_tool(
            "forget_memory", {"query": "old phone number", "user": "alice", "k": 1}
        )
    )
    assert [m["id"] for m in by_query["forgotten"]] == [phone["id"]]
    with database(db) as ms:
        remaining = ms.get_many([phone["id"], turn["page"]["id"]])
    assert [memory.id for memory in remaining] == [turn["page"]["id"]]

    persona = await client.read_resource("memoryspace://users/alice/persona")
    document = json.loads(persona.contents[0].text)  # type: ignore[union-attr]
    assert document["user"] == "alice"
    assert set(document) == {"user", "agent", "profile", "persona", "facts"}

    missing = error_text(await client.call_tool("pin_memory", {"id": "no-such-memory"}))
    assert "NotFound" in missing and "no-such-memory" in missing
    await exercise_structure_tools(client, db)


async def exercise_structure_tools(client: Client, db: Path) -> None:
    """Notes (add, search with links, show, link and unlink), reflection (a dry run, then
    applied) and reading, each checked in the database."""
    first = payload(
        await client.call_tool(
            "add_note",
            {"content": "Alice is training for the Berlin marathon in September", "user": "alice"},
        )
    )
    second = payload(
        await client.call_tool(
            "add_note",
            {
                "content": "Alice's marathon plan has long runs every Sunday",
                "user": "alice",
                "links": [first["id"]],
                "tags": ["running"],
            },
        )
    )
    assert first["id"] in {link["id"] for link in second["links"]}
    with database(db) as ms:
        stored = ms.get(second["id"])
    assert str(stored.kind) == "note" and "running" in stored.tags
    assert first["id"] in stored.link_ids() and stored.meta["keywords"]

    hits = payload(
        await client.call_tool(
            "search_notes",
            {
                "query": "long runs every Sunday",
                "user": "alice",
                "k": 2,
                "expand": 1,
                "min_score": 0.3,
            },
        )
    )["hits"]
    assert [hit["id"] for hit in hits[:1]] == [second["id"]]
    assert {hit["id"]: hit["via"] for hit in hits}.get(first["id"]) == second["id"]

    shown = payload(await client.call_tool("show_note", {"id": second["id"]}))
    assert {link["id"]: link["content"] for link in shown["links"]}[first["id"]].startswith(
        "Alice is training"
    )
    assert shown["history"][0]["op"] == "add"

    linked = payload(
        await client.call_tool(
            "link_notes", {"source": first["id"], "target": second["id"], "type": "supports"}
        )
    )
    assert {"id": second["id"], "type": "supports"} in linked["links"]
    with database(db) as ms:
        assert second["id"] in ms.get(first["id"]).link_ids()
    await client.call_tool(
        "link_notes", {"source": first["id"], "target": second["id"], "remove": True}
    )
    with database(db) as ms:
        assert second["id"] not in ms.get(first["id"]).link_ids()

    old = payload(
        await client.call_tool(
            "add_memory", {"content": "My favourite colour is blue", "user": "alice"}
        )
    )
    await client.call_tool(
        "add_memory", {"content": "My favourite colour is green", "user": "alice"}
    )
    plan = payload(await client.call_tool("reflect", {"user": "alice"}))
    assert plan["dry_run"] is True and plan["applied"] == 0
    closing = [g for g in plan["plan"] if old["id"] in g["ids"]]
    assert [g["action"] for g in closing] == ["supersede"]
    with database(db) as ms:
        assert ms.get(old["id"]).valid_to is None  # a dry run changes nothing
    applied = payload(await client.call_tool("reflect", {"user": "alice", "dry_run": False}))
    assert applied["applied"] >= 1
    with database(db) as ms:
        assert ms.get(old["id"]).valid_to is not None
        assert ms.history(old["id"])[-1].actor == "reflect"

    filler = " ".join(f"Paragraph {n} talks about the weather in town." for n in range(400))
    text = filler + " The vault code is 7341. " + filler
    read = payload(
        await client.call_tool(
            "read_document",
            {"text": text, "question": "What is the vault code?", "memory_tokens": 128},
        )
    )
    assert "7341" in read["memory"] and read["chunks"] >= 2
    assert any("7341" in kept["text"] and kept["offset"] is not None for kept in read["kept"])
