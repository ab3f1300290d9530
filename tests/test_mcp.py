"""The MCP server, driven by the SDK's own client over real transports: stdio (a spawned
``python -m memoryspace mcp`` process) and streamable HTTP (a real uvicorn on 127.0.0.1), with
namespace-restricted bearer tokens. Every tool's effect is checked in the database."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from mcp_harness import (
    database,
    error_text,
    exercise_every_tool,
    free_port,
    http_client,
    payload,
    serving,
    wait_for_port,
)
from memoryspace import MemorySpace
from memoryspace.mcp import Access, mcp_http_app, static_tokens

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database holding one memory of alice and one of bob."""
    path = tmp_path / "memory.db"
    with MemorySpace.open(path, embedder="hashing") as ms:
        ms.add("Alice's sister is called Maren", user="alice", kind="fact")
        ms.add("Bob's bank PIN hint is his first dog", user="bob", kind="fact")
    return path


def child_env() -> dict[str, str]:
    return {"PYTHONPATH": str(SRC), "MEMORYSPACE_LLM_URL": ""}


def test_stdio_every_tool(db: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memoryspace", "mcp", "--db", str(db), "--embedder", "hashing"],
        env=child_env(),
    )

    async def scenario() -> None:
        async with Client(params) as client:
            await exercise_every_tool(client, db)

    anyio.run(scenario)


@pytest.fixture
def space(db: Path) -> Iterator[MemorySpace]:
    with MemorySpace.open(db, embedder="hashing") as ms:
        yield ms


TOKENS = {
    "admin-token": Access.everything(),
    "alice-token": Access.only(["user:alice"]),
    "alice-reader": Access.only(["user:alice"], rights=["read"]),
}


@pytest.fixture
def url(space: MemorySpace) -> Iterator[str]:
    with serving(mcp_http_app(space, resolve=static_tokens(TOKENS))) as endpoint:
        yield endpoint


def test_http_every_tool(url: str, db: Path) -> None:
    async def scenario() -> None:
        async with http_client(url, "admin-token") as client:
            await exercise_every_tool(client, db)

    anyio.run(scenario)


def test_http_restricted_token_sees_only_its_namespace(url: str, db: Path) -> None:
    with database(db) as ms:
        bob_id = next(iter(ms.scan(user="bob"))).id

    async def scenario() -> None:
        async with http_client(url, "alice-token") as client:
            # Another user's scope is refused, whatever the tool.
            for tool, args in [
                ("search_memory", {"query": "bank PIN", "user": "bob"}),
                ("list_memories", {"user": "bob"}),
                ("get_context", {"query": "bank PIN", "user": "bob"}),
                ("add_memory", {"content": "planted", "user": "bob"}),
                ("forget_memory", {"query": "bank PIN", "user": "bob"}),
                ("add_turn", {"user": "bob", "user_text": "hi"}),
                ("add_note", {"content": "planted", "user": "bob"}),
                ("search_notes", {"query": "bank PIN", "user": "bob"}),
                ("reflect", {"user": "bob"}),
                ("reflect", {}),  # the whole space: only a session of every namespace
                ("search_memory", {"query": "bank PIN"}),  # no scope = every namespace
            ]:
                message = error_text(await client.call_tool(tool, args))
                assert "Forbidden" in message and "user:alice" in message, (tool, message)
            # A record of another namespace answers exactly like a missing one.
            for tool, args in [
                ("pin_memory", {"id": "{id}"}),
                ("update_memory", {"id": "{id}", "content": "overwritten"}),
                ("memory_history", {"id": "{id}"}),
                ("forget_memory", {"ids": ["{id}"]}),
                ("show_note", {"id": "{id}"}),
                ("link_notes", {"source": "{id}", "target": "{id}"}),
            ]:
                hidden = error_text(await client.call_tool(tool, fill(args, bob_id)))
                absent = error_text(await client.call_tool(tool, fill(args, "0" * 24)))
                assert "NotFound" in hidden
                assert hidden.replace(bob_id, "ID") == absent.replace("0" * 24, "ID")
            # Its own namespace works, and only its own records come back.
            hits = payload(
                await client.call_tool(
                    "search_memory", {"query": "sister bank PIN", "user": "alice", "min_score": 0}
                )
            )["hits"]
            assert [hit["user"] for hit in hits] == ["alice"]
            with pytest.raises(Exception, match="Forbidden"):
                await client.read_resource("memoryspace://users/bob/persona")

    anyio.run(scenario)
    with database(db) as ms:  # nothing of bob's changed
        bob = ms.get(bob_id)
        assert (bob.pinned, bob.version, ms.count(user="bob")) == (False, 2, 1)
        assert ms.count(user="bob", kind="turn") == 0


def fill(args: dict[str, object], id: str) -> dict[str, object]:
    return json.loads(json.dumps(args).replace("{id}", id))  # type: ignore[no-any-return]


def test_http_read_only_token_cannot_write(url: str, db: Path) -> None:
    async def scenario() -> None:
        async with http_client(url, "alice-reader") as client:
            refused = error_text(
                await client.call_tool("add_memory", {"content": "x", "user": "alice"})
            )
            assert "Forbidden" in refused and "write" in refused
            listed = payload(await client.call_tool("list_memories", {"user": "alice"}))
            assert [m["content"] for m in listed["memories"]] == ["Alice's sister is called Maren"]

    anyio.run(scenario)
    with database(db) as ms:
        assert ms.count(user="alice") == 1


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic admin-token"])
def test_http_without_a_valid_token_is_401(url: str, header: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if header is not None:
        headers["Authorization"] = header
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(url, json=body, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_http_bad_arguments_are_tool_errors_not_crashes(url: str, db: Path) -> None:
    async def scenario() -> None:
        async with http_client(url, "admin-token") as client:
            for args in [
                {"query": "sister", "user": "alice", "k": "5"},  # a string is not coerced
                {"query": "sister", "user": "alice", "k": 0},
                {"query": "", "user": "alice"},
                {"query": "sister", "kind": "gossip"},
                {"user": "alice"},
            ]:
                assert error_text(await client.call_tool("search_memory", args))
            library = error_text(
                await client.call_tool("forget_memory", {"ids": ["a"], "query": "b"})
            )
            assert "InvalidInput" in library
            oversized = error_text(
                await client.call_tool("add_memory", {"content": "x" * 2_000_000, "user": "alice"})
            )
            assert "InvalidInput" in oversized and "split it into several memories" in oversized
            # The server still answers.
            assert payload(await client.call_tool("list_memories", {"user": "alice"}))["memories"]

    anyio.run(scenario)


def test_cli_http_transport_with_a_token(db: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "memoryspace", "mcp", "--db", str(db), "--embedder"]
    command += ["hashing", "--http", "--port", str(port)]
    env = {**os.environ, **child_env(), "MEMORYSPACE_MCP_TOKEN": "cli-token"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, alive=lambda: proc.poll() is None)
        url = f"http://127.0.0.1:{port}/mcp"
        assert httpx.post(url, json={}, timeout=30).status_code == 401

        async def scenario() -> None:
            async with http_client(url, "cli-token") as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "search_memory" in names
                added = payload(
                    await client.call_tool("add_memory", {"content": "via CLI", "user": "carol"})
                )
                with database(db) as ms:
                    assert ms.get(added["id"]).content == "via CLI"

        anyio.run(scenario)
    finally:
        proc.terminate()
        proc.wait(30)


def test_cli_http_refuses_a_public_address_without_a_token(db: Path) -> None:
    command = [sys.executable, "-m", "memoryspace", "mcp", "--db", str(db), "--http"]
    result = subprocess.run(
        [*command, "--host", "0.0.0.0"],
        env={**os.environ, **child_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "--token" in result.stderr and "loopback" in result.stderr


def test_http_app_mounted_at_mcp_in_another_app(space: MemorySpace) -> None:
    """How the REST server serves it: built with path "/", mounted at /mcp, its lifespan (the
    SDK's session manager) run inside the outer app's."""
    inner = mcp_http_app(space, resolve=static_tokens(TOKENS), path="/")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with inner.router.lifespan_context(inner):
            yield

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [Route("/health", health), Mount("/mcp", app=inner)]
    outer = Starlette(routes=routes, lifespan=lifespan)

    async def scenario(url: str) -> None:
        async with http_client(url, "alice-token") as client:
            listed = payload(await client.call_tool("list_memories", {"user": "alice"}))
            assert [m["user"] for m in listed["memories"]] == ["alice"]

    with serving(outer) as url:
        assert httpx.get(url.removesuffix("/mcp") + "/health", timeout=30).json() == {"ok": True}
        assert httpx.post(url + "/", json={}, timeout=30).status_code == 401
        anyio.run(scenario, url)


def test_http_access_follows_each_requests_token_not_the_session(url: str) -> None:
    """A session opened with a full-access token and continued with a restricted one is
    restricted from then on: access is resolved per request, not per session."""
    http = httpx2.AsyncClient(
        headers={"Authorization": "Bearer admin-token"}, timeout=httpx2.Timeout(30, read=120)
    )

    async def scenario() -> None:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            bob = {"query": "bank PIN", "user": "bob", "min_score": 0}
            assert payload(await client.call_tool("search_memory", bob))["hits"]
            http.headers["Authorization"] = "Bearer alice-token"
            assert "Forbidden" in error_text(await client.call_tool("search_memory", bob))
            http.headers["Authorization"] = "Bearer revoked"
            with pytest.raises(MCPError):  # the 401, as the SDK reports an HTTP error
                await client.call_tool("search_memory", bob)

    anyio.run(scenario)
