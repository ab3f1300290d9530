"""``memoryspace serve --workers 2``: two server processes over one SQLite file behind one
port. A write through either is found through both (each follows the log before searching),
and the MCP endpoint is stateless, so a client's requests may reach either process; no MCP
tool erases data (``purge`` is REST, CLI and Python only: see the README's MCP section)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")
pytest.importorskip("mcp", reason="the MCP endpoint needs the 'server' extra")

from mcp_harness import http_client, payload, wait_for_port
from memoryspace import MemorySpace
from memoryspace.errors import InvalidInput
from memoryspace.server.run import free_port, serve

SRC = Path(__file__).resolve().parents[1] / "src"


def test_several_workers_share_one_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    with MemorySpace.open(db, embedder="hashing") as space:
        space.add("the spare key is under the blue flowerpot", user="lena")
    port = free_port()
    command = [sys.executable, "-m", "memoryspace", "serve", "--db", str(db)]
    command += ["--port", str(port), "--workers", "2", "--no-access-log"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "MEMORYSPACE_EMBEDDER": "hashing"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, alive=lambda: proc.poll() is None)
        url = f"http://127.0.0.1:{port}"
        close = {"Connection": "close"}  # a new connection each time: the kernel spreads them
        added = []
        for n in range(8):
            answer = httpx.post(
                f"{url}/memories",
                json={"content": f"parcel {n} waits at locker {100 + n}", "user": "lena"},
                headers=close,
                timeout=60,
            )
            assert answer.status_code == 201, answer.text
            added.append(answer.json()["id"])
        for n, id in enumerate(added):  # every write is found, whichever process answers
            hits = httpx.post(
                f"{url}/search",
                json={"query": f"parcel {n} locker {100 + n}", "user": "lena", "k": 1},
                headers=close,
                timeout=60,
            ).json()
            assert [hit["memory"]["id"] for hit in hits] == [id]

        async def over_mcp() -> None:
            async with http_client(f"{url}/mcp/", None) as client:
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "search_memory" in names
                assert not {name for name in names if "purge" in name or "erase" in name}
                found = payload(
                    await client.call_tool("search_memory", {"query": "spare key", "user": "lena"})
                )
                assert "flowerpot" in str(found)

        anyio.run(over_mcp)
    finally:
        proc.terminate()
        proc.wait(60)


def test_workers_need_a_shared_database() -> None:
    with pytest.raises(InvalidInput, match="in-memory database"):
        serve(":memory:", workers=2)
    with pytest.raises(InvalidInput, match="--workers"):
        serve(":memory:", workers=0)
