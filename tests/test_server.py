"""The REST server over a real uvicorn on 127.0.0.1, driven by httpx and by the clients."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")

import httpx

from loopback import serve_http
from memoryspace import MemorySpace
from memoryspace.client import AsyncMemoryClient, MemoryClient
from memoryspace.errors import Conflict, Forbidden, InvalidInput, NotFound
from memoryspace.models import Memory, Op, SearchHit
from memoryspace.server.run import check_exposure
from server_fixtures import served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemorySpace, str]]:
    with served(tmp_path_factory.mktemp("server") / "served.db") as pair:
        yield pair


def test_client_speaks_like_the_facade(server: tuple[MemorySpace, str]) -> None:
    space, url = server
    with MemoryClient(url) as client:
        added = client.add("Maren adopted a greyhound called Pixel", user="maren", tags=["pets"])
        assert isinstance(added, Memory) and space.get(added.id).content == added.content
        hits = client.search("greyhound", user="maren")
        assert isinstance(hits[0], SearchHit) and hits[0].memory.id == added.id
        assert 0 < hits[0].score <= 1 and hits[0].parts.sparse_rank == 1
        assert hits[0].parts == space.search("greyhound", user="maren", touch=False)[0].parts
        edited = client.update(
            added.id, content="Maren adopted a whippet", if_version=added.version
        )
        assert edited.version > added.version and space.get(added.id).content.endswith("whippet")
        with pytest.raises(Conflict, match="changed since it was read"):
            client.update(added.id, importance=0.9, if_version=added.version)
        assert client.pin(added.id).pinned and not client.unpin(added.id).pinned
        assert [c.op for c in client.history(added.id)] == [Op.ADD, Op.UPDATE, Op.UPDATE, Op.UPDATE]
        assert client.count(user="maren") == 1 == len(list(client.scan(user="maren")))
        context = client.context("what dog does Maren have", budget=200, user="maren")
        assert added.id in context.source_ids and context.tokens <= 200
        checkpoint = client.checkpoint("before-forget", overwrite=True)
        assert client.forget("whippet", dry_run=True, user="maren") == [added.id]
        assert client.get(added.id).id == added.id  # a dry run deletes nothing
        assert client.forget("whippet", user="maren") == [added.id]
        with pytest.raises(NotFound):
            client.get(added.id)
        restored = client.restore("before-forget")
        assert [c.op for c in restored] == [Op.ADD] and client.get(added.id).content.endswith(
            "whippet"
        )
        assert checkpoint.name in [c.name for c in client.checkpoints()]
        assert client.gc(dry_run=True).dry_run
        assert client.stats()["memories"] == space.stats()["memories"]
        assert client.changes(client.lsn - 1)[0].lsn == client.lsn == space.lsn


def test_async_client(server: tuple[MemorySpace, str]) -> None:
    _, url = server

    async def run() -> list[str]:
        async with AsyncMemoryClient(url) as client:
            first = await client.add("Tobi is learning the cello", user="tobi")
            await client.add_many(["Tobi practises on Sundays"], dedupe=False)
            hits = await client.search("cello", user="tobi")
            with pytest.raises(NotFound):
                await client.get("no-such-id")
            return [first.id, hits[0].memory.id]

    first, found = asyncio.run(run())
    assert first == found


def test_errors_are_json_and_never_5xx(server: tuple[MemorySpace, str]) -> None:
    _, url = server
    with httpx.Client(base_url=url) as http:
        cases = [
            ("POST", "/memories", {"content": 5}, 422),  # a number is not coerced to text
            ("POST", "/memories", {"content": "x", "colour": "red"}, 422),
            ("POST", "/search", {"query": "x", "k": 100_000}, 422),
            ("POST", "/search", {"query": "q" * 20_000}, 422),
            ("POST", "/search", {"query": "x", "kind": "nope"}, 422),  # the facade's check
            ("GET", "/memories/nothing-here", None, 404),
            ("GET", "/no/such/route", None, 404),
            ("PATCH", "/memories/x", {"importance": "high"}, 422),
            ("POST", "/restore", {"name": "never-taken"}, 404),
            ("POST", "/gc", {"collector": "bounded"}, 422),
        ]
        for method, path, body, status in cases:
            answer = http.request(method, path, json=body)
            assert answer.status_code == status, (path, answer.text)
            assert set(answer.json()["error"]) == {"type", "message"}
        too_big = http.post("/memories", content=b"x" * (9 * 1024 * 1024))
        assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "PayloadTooLarge"
        broken = http.post(
            "/memories", content=b'{"content": ', headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422


def test_as_of_reads_the_past(server: tuple[MemorySpace, str]) -> None:
    space, url = server
    memory = space.add("the wifi password is tulip", user="ida")
    space.update(memory.id, content="the wifi password is orchid")
    with httpx.Client(base_url=url) as http:
        past = http.get(f"/as_of/{memory.version}/memories/{memory.id}").json()
        hits = http.post(f"/as_of/{memory.version}/search", json={"query": "tulip", "user": "ida"})
    assert past["content"].endswith("tulip") and hits.json()[0]["memory"]["id"] == memory.id


def test_metrics(server: tuple[MemorySpace, str]) -> None:
    _, url = server
    with httpx.Client(base_url=url) as http:
        http.post("/search", json={"query": "anything"})
        text = http.get("/metrics").text
    assert 'memoryspace_request_seconds_count{method="POST",route="/search",status="200"}' in text
    assert 'memoryspace_records{kind="turn"}' in text and "memoryspace_hot_tier_faults" in text
    assert "memoryspace_gc_pause_seconds_total" in text


def test_without_keys_only_loopback(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "open.db", embedder="hashing") as space:
        assert "loopback" in check_exposure(space, "127.0.0.1")
        with pytest.raises(Forbidden, match="without API keys"):
            check_exposure(space, "0.0.0.0")
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}
    result = subprocess.run(
        [sys.executable, "-m", "memoryspace", "serve", "--db", str(tmp_path / "open.db"),
         "--host", "0.0.0.0", "--port", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "refusing to listen on 0.0.0.0" in result.stderr


def test_client_refuses_filters_a_listing_cannot_take(server: tuple[MemorySpace, str]) -> None:
    _, url = server
    with MemoryClient(url) as client, pytest.raises(InvalidInput, match="remote listing"):
        list(client.scan(since=0.0))


def test_bench_serve_drives_a_real_server_process() -> None:
    from memoryspace.bench.serve import run

    rows = run(records=50, clients=2, seconds=0.5, workers=2, baseline_records=None)
    served = [(row["records"], row["workers"], row["operation"]) for row in rows[:3]]
    assert served == [
        (50, 1, "search (one user)"),  # each client searches one user's memories
        (50, 2, "search (one user)"),  # two worker processes over one database answer
        (50, 2, "add"),
    ]
    assert all(row["requests"] > 0 and row["errors"] == 0 for row in rows)
    assert rows[3]["operation"].startswith("embed one query")
    with pytest.raises(InvalidInput, match="--clients"):
        run(records=50, clients=1_000, seconds=1)
    with pytest.raises(InvalidInput, match="scoped"):
        run(records=50, clients=1, seconds=1, scoped="yes")  # type: ignore[arg-type]


def test_cli_json_and_http_bodies_have_one_shape(server: tuple[MemorySpace, str]) -> None:
    space, url = server
    memory = space.add("the boiler was serviced in May", user="ida", tags=["house"])
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}
    db = space.store.path
    assert db is not None

    def cli(*args: str) -> object:
        done = subprocess.run(
            [sys.executable, "-m", "memoryspace", *args, "--db", db, "--json"],
            capture_output=True, text=True, env=env, timeout=120, check=True,
        )  # fmt: skip
        return json.loads(done.stdout)

    with httpx.Client(base_url=url) as http:
        assert cli("get", memory.id) == http.get(f"/memories/{memory.id}").json()
        assert cli("history", memory.id) == http.get(f"/memories/{memory.id}/history").json()
        cli_hits = cli("search", "boiler serviced", "--user", "ida", "-k", "1")
        http_hits = http.post("/search", json={"query": "boiler serviced", "user": "ida", "k": 1})
    assert isinstance(cli_hits, list)
    assert cli_hits[0]["parts"] == http_hits.json()[0]["parts"]
    assert cli_hits[0].keys() == http_hits.json()[0].keys()


def test_bench_serve_counts_a_request_without_an_answer_as_an_error() -> None:
    """A request that times out is an error of the row (it used to end its client thread, and
    the row lost it)."""
    from http.server import BaseHTTPRequestHandler

    from memoryspace.bench.serve import _drive

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(0.5)  # past the client's timeout
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(Slow) as (_, url):
        row = _drive(url, "search", 2, 0.1, ["a b c d e"], None, timeout=0.1)
    assert row["requests"] >= 2 and row["errors"] == row["requests"]
