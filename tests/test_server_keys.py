"""API keys: hashed, scoped to namespaces and rights; a record of another namespace answers
exactly like a missing one; the change feed shows a key only its namespaces, in LSN order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")

import httpx

from memoryspace import MemorySpace
from memoryspace.client import MemoryClient
from memoryspace.errors import Forbidden, Unauthorized
from memoryspace.models import Change
from memoryspace.server import KeyRing
from server_fixtures import serve_space, served

Keys = dict[str, str]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemorySpace, str, Keys]]:
    with served(tmp_path_factory.mktemp("keys") / "keyed.db") as (space, url):
        ring = KeyRing(space.store)
        tokens = {
            name: ring.create(namespaces, rights)[1]
            for name, namespaces, rights in (
                ("alice", ["user:alice"], ["read", "write"]),
                ("bob", ["user:bob"], ["read", "write"]),
                ("reader", ["user:alice"], ["read"]),
                ("team_a", ["user:team", "user:alice"], ["read", "write"]),
                ("team_b", ["user:team"], ["read", "write"]),
                ("prefix", ["user:ali*"], ["read"]),
                ("admin", ["*"], ["admin"]),
                ("alice_admin", ["user:alice"], ["admin"]),
            )
        }
        yield space, url, tokens


def http(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers)


def test_keys_are_stored_hashed(keyed: tuple[MemorySpace, str, Keys]) -> None:
    space, _, tokens = keyed
    stored = space.store.get_setting("server.api_keys") or ""
    assert tokens["alice"].split("_")[2] not in stored and len(json.loads(stored)) == len(tokens)


def test_no_key_bad_key_revoked_key(keyed: tuple[MemorySpace, str, Keys]) -> None:
    space, url, _ = keyed
    for token in (None, "ms_000000000000_" + "x" * 43, "not-a-key"):
        with http(url, token) as client:
            answer = client.get("/memories", params={"user": "alice"})
        assert answer.status_code == 401 and answer.json()["error"]["type"] == "Unauthorized"
    ring = KeyRing(space.store)
    key, token = ring.create(["user:zed"], ["read"])
    with MemoryClient(url, api_key=token) as client:
        assert client.count() == 0
        ring.revoke(key.id)
        with pytest.raises(Unauthorized, match="revoked"):
            client.count()


def test_another_namespace_answers_like_a_missing_record(
    keyed: tuple[MemorySpace, str, Keys],
) -> None:
    space, url, tokens = keyed
    with MemoryClient(url, api_key=tokens["bob"]) as bob:
        secret = bob.add("bob's locker code is 4711")  # placed in bob's namespace
    assert secret.user == "bob"
    with http(url, tokens["alice"]) as alice:
        alice.post("/memories", json={"content": "alice likes 4711 cologne"})
        theirs = alice.get(f"/memories/{secret.id}")
        fake = "0" * len(secret.id)
        nobody = alice.get(f"/memories/{fake}")
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json() == json.loads(nobody.text.replace(fake, secret.id))
        assert alice.get(f"/memories/{secret.id}/history").status_code == 404
        assert alice.patch(f"/memories/{secret.id}", json={"pinned": True}).status_code == 404
        assert alice.delete(f"/memories/{secret.id}").status_code == 404
        found = alice.post("/search", json={"query": "locker code 4711", "min_score": 0}).json()
        assert found and all(hit["memory"]["user"] == "alice" for hit in found)
        assert alice.post("/search", json={"query": "locker", "user": "bob"}).json() == []
        assert all(m["user"] == "alice" for m in alice.get("/memories").json())
        assert alice.get("/memories", params={"user": "bob"}).json() == []
        assert alice.get("/memories/count", params={"user": "bob"}).json() == {"count": 0}
        assert all(
            (c["after"] or c["before"])["user"] == "alice" for c in alice.get("/changes").json()
        )
        stats = alice.get("/stats").json()
        assert stats["memories"] == space.count(user="alice") and "path" not in stats
        write = alice.post("/memories", json={"content": "planted", "user": "bob"})
        assert write.status_code == 403
        moved = alice.post("/memories", json={"content": "mine"}).json()
        assert alice.patch(f"/memories/{moved['id']}", json={"user": "bob"}).status_code == 403
        assert alice.post("/forget", json={"all": True, "user": "bob"}).json()["deleted"] == []
    assert space.get(secret.id).content == "bob's locker code is 4711"


def test_rights_and_whole_space_operations(keyed: tuple[MemorySpace, str, Keys]) -> None:
    _, url, tokens = keyed
    with MemoryClient(url, api_key=tokens["reader"]) as reader:
        with pytest.raises(Forbidden, match="'write' right"):
            reader.add("not allowed")
        assert reader.count() >= 0
    with MemoryClient(url, api_key=tokens["alice"]) as alice, pytest.raises(Forbidden):
        alice.gc(dry_run=True)
    with (
        MemoryClient(url, api_key=tokens["alice_admin"]) as alice_admin,
        pytest.raises(Forbidden, match="namespace '\\*'"),
    ):
        alice_admin.checkpoint("nope")
    with MemoryClient(url, api_key=tokens["prefix"]) as prefix:
        assert prefix.count(user="alice") > 0 and prefix.count(user="bob") == 0
    with MemoryClient(url, api_key=tokens["admin"]) as admin:
        assert admin.gc(dry_run=True).dry_run and admin.stats()["memories"] > 0


def test_two_keys_sharing_a_namespace_see_each_others_changes_in_order(
    keyed: tuple[MemorySpace, str, Keys],
) -> None:
    space, url, tokens = keyed
    start = space.lsn
    streamed: list[Change] = []
    ready = threading.Event()

    def tail() -> None:  # team_b tails the SSE stream while both write
        with MemoryClient(url, api_key=tokens["team_b"]) as client:
            ready.set()
            for change in client.tail(start):
                streamed.append(change)
                if len(streamed) == 6:
                    return

    listener = threading.Thread(target=tail, daemon=True)
    listener.start()
    ready.wait(10)
    with (
        MemoryClient(url, api_key=tokens["team_a"]) as a,
        MemoryClient(url, api_key=tokens["team_b"]) as b,
    ):
        written = []
        for n in range(3):
            written.append(a.add(f"team note {n} from a", user="team").id)
            written.append(b.add(f"team note {n} from b").id)  # b's only namespace: team
        a.add("a private note", user="alice")  # team_b must never see this
        seen_by_a = [c for c in a.changes(start) if c.after and c.after.user == "team"]
        seen_by_b = b.changes(start)
    listener.join(30)
    assert [c.id for c in seen_by_a] == [c.id for c in seen_by_b] == written
    assert [c.lsn for c in seen_by_b] == sorted(c.lsn for c in seen_by_b)
    assert [c.id for c in streamed] == written
    assert all(c.after is not None and c.after.user == "team" for c in seen_by_b)


def test_a_stored_key_with_a_namespace_no_longer_read_is_refused(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "legacy.db", embedder="hashing") as space:
        ring = KeyRing(space.store)
        key, token = ring.create(["user:alice"], ["read"])
        stored = json.loads(space.store.get_setting("server.api_keys") or "{}")
        stored[key.id]["namespaces"] = ["user:*"]  # what an older version accepted
        space.store.set_setting("server.api_keys", json.dumps(stored))
        with pytest.raises(Unauthorized, match="revoke it and create a new one"):
            ring.authenticate(token)
        assert ring.resolve(token) is None


def test_keys_cli(tmp_path: Path) -> None:
    db = tmp_path / "cli-keys.db"
    env = {**os.environ, "MEMORYSPACE_DB": str(db), "MEMORYSPACE_EMBEDDER": "hashing"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "memoryspace", "keys", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    made = json.loads(run("create", "--namespace", "user:alice", "--rights", "read,write",
                          "--expires", "30d", "--json").stdout)  # fmt: skip
    assert made["token"].startswith(f"ms_{made['id']}_") and made["rights"] == ["read", "write"]
    listed = json.loads(run("list", "--json").stdout)
    assert [k["id"] for k in listed] == [made["id"]] and "token" not in listed[0]
    assert run("revoke", made["id"]).returncode == 0
    assert json.loads(run("list", "--json").stdout)[0]["revoked_at"] is not None
    bad = run("create", "--namespace", "team", "--rights", "read")
    assert bad.returncode == 1 and "a namespace is 'user:NAME'" in bad.stderr
    with MemorySpace.open(db, embedder="hashing") as space:
        assert not KeyRing(space.store).configured()


def test_a_key_expires_and_a_mounted_app_reuses_the_key_check(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    now = [1_000.0]
    with MemorySpace.open(tmp_path / "expiry.db", embedder="hashing") as space:
        ring = KeyRing(space.store, clock=lambda: now[0])
        _, token = ring.create(["agent:planner"], ["read"], expires_at=1_060.0)
        assert ring.authenticate(token).names() == ["agent:planner"]
        now[0] = 1_061.0
        with pytest.raises(Unauthorized, match="expired"):
            ring.authenticate(token)
        _, live = KeyRing(space.store).create(["agent:planner"], ["read"])

        async def whoami(request: Request) -> JSONResponse:  # what an MCP app would do
            keys = request.app.state.memoryspace_keys
            access = keys.authenticate(request.headers.get("x-api-key"))
            return JSONResponse({"namespaces": access.names()})

        tool = Starlette(routes=[Route("/whoami", whoami)])
        with serve_space(space, mounts={"/mcp": tool}) as url:
            tool.state.memoryspace_keys = KeyRing(space.store)
            answer = httpx.get(f"{url}/mcp/whoami", headers={"x-api-key": live})
        assert answer.json() == {"namespaces": ["agent:planner"]}


def test_mcp_mounted_in_the_server_checks_the_same_keys(tmp_path: Path) -> None:
    pytest.importorskip("mcp", reason="the MCP endpoint needs the mcp SDK (server extra)")
    import asyncio

    from mcp_harness import http_client, payload
    from memoryspace.server.run import mcp_mount

    with MemorySpace.open(tmp_path / "mcp.db", embedder="hashing") as space:
        space.add("alice keeps bees", user="alice")
        space.add("bob keeps goats", user="bob")
        ring = KeyRing(space.store)
        _, token = ring.create(["user:alice"], ["read", "write"])
        assert ring.resolve("ms_000000000000_" + "x" * 43) is None

        async def scenario(url: str) -> list[str | None]:
            async with http_client(url, token) as client:
                listed = payload(await client.call_tool("list_memories", {"user": "alice"}))
                return [m["user"] for m in listed["memories"]]

        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        }
        accept = "application/json, text/event-stream"
        with serve_space(space, mounts=mcp_mount(space, "127.0.0.1")) as url:
            users = asyncio.run(scenario(f"{url}/mcp/"))
            refused = httpx.post(f"{url}/mcp/", json={}, headers={"Accept": "*/*"})
            by_header = httpx.post(  # the same credential headers as the REST routes
                f"{url}/mcp/", json=hello, headers={"Accept": accept, "X-API-Key": token}
            )
        assert users == ["alice"] and refused.status_code == 401
        assert by_header.status_code == 200 and "memoryspace" in by_header.text
