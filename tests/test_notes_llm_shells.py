"""Notes and reflection with a model, through the shells a user calls: the CLI (a real
process), the REST server (a real server on 127.0.0.1) and the MCP server (a real stdio
process), all against the loopback chat server. The model tags notes and reads
'Japan: <month>' as the trip's time, which the offline rules do not, so a closing proves the
model's claims were used."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from chat_server import serve_chat
from memoryspace import MemorySpace
from memoryspace.reflect.claims import extract_claims
from test_cli import cli, cli_json
from test_notes_llm import ENV, answer

APRIL = "Japan: April. Booked the flight."
OCTOBER = "Japan: October, the airline moved it."


@pytest.fixture(autouse=True)
def no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_the_offline_rules_miss_what_the_model_reads() -> None:
    assert extract_claims(APRIL) == [] and extract_claims(OCTOBER) == []


def test_cli_notes_and_reflect_use_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "llm.db"
    with serve_chat() as api:
        api.respond = answer
        monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
        monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
        first = cli_json(db, "notes", "add", APRIL, "--user", "maren")["note"]
        second = cli_json(db, "notes", "add", OCTOBER, "--user", "maren")["note"]
        assert first["tags"] == ["travel"] and first["meta"]["context"] == "Travel plans."
        assert second["meta"]["keywords"] == ["japan", "flight"]
        planned = cli_json(db, "reflect", "--dry-run", "--user", "maren")
        assert planned["counts"] == {"supersede": 1}
        with MemorySpace.open(db, embedder="hashing") as ms:
            assert ms.get(first["id"]).valid_to is None  # a dry run changes nothing
        applied = cli(db, "reflect", "--user", "maren").stdout
        assert "applied 1 groups" in applied
        asked = len(api.requests)
    with MemorySpace.open(db, embedder="hashing") as ms:
        assert ms.get(first["id"]).valid_to == ms.get(second["id"]).created_at
        assert ms.history(first["id"])[-1].actor == "reflect"
    assert asked == 4  # two notes described, one claims batch per reflect run
    assert {body["model"] for body in api.bodies()} == {"test-model"}


def test_rest_notes_and_reflect_use_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")
    from server_fixtures import served

    with serve_chat() as api:
        api.respond = answer
        monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
        monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
        with (
            served(tmp_path / "s.db") as (space, url),
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            first = http.post("/notes", json={"content": APRIL, "user": "maren"}).json()
            second = http.post("/notes", json={"content": OCTOBER, "user": "maren"}).json()
            assert first["tags"] == ["travel"]
            plan = http.post("/reflect", json={"user": "maren", "dry_run": True}).json()
            assert plan["counts"] == {"supersede": 1} and plan["dry_run"] is True
            assert space.get(first["id"]).valid_to is None
            applied = http.post("/reflect", json={"user": "maren"}).json()
            assert applied["applied"] == 1
            assert space.get(first["id"]).valid_to == space.get(second["id"]).created_at
            hits = http.post(
                "/notes/search", json={"query": "Japan trip", "user": "maren", "min_score": 0}
            ).json()
            assert [hit["memory"]["id"] for hit in hits] == [second["id"]]  # current only
    assert len(api.requests) == 4


def test_mcp_notes_and_reflect_use_the_model(tmp_path: Path) -> None:
    pytest.importorskip("mcp", reason="the MCP server needs the 'server' extra")
    import anyio
    from mcp import Client, StdioServerParameters

    from mcp_harness import payload

    db = tmp_path / "mcp.db"
    with serve_chat() as api:
        api.respond = answer
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "memoryspace", "mcp", "--db", str(db), "--embedder", "hashing"],
            env={
                "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
                "MEMORYSPACE_LLM_URL": api.url,
                "MEMORYSPACE_LLM_MODEL": "test-model",
            },
        )

        async def scenario() -> tuple[dict[str, Any], ...]:
            async with Client(params) as client:
                notes = [
                    payload(await client.call_tool("add_note", {"content": c, "user": "maren"}))
                    for c in (APRIL, OCTOBER)
                ]
                plan = payload(await client.call_tool("reflect", {"user": "maren"}))
                applied = payload(
                    await client.call_tool("reflect", {"user": "maren", "dry_run": False})
                )
                return (*notes, plan, applied)

        first, second, plan, applied = anyio.run(scenario)
        asked = len(api.requests)
    assert first["tags"] == ["travel"]
    assert plan["dry_run"] is True and plan["counts"] == {"supersede": 1}
    assert applied["dry_run"] is False and applied["applied"] == 1
    with MemorySpace.open(db, embedder="hashing") as ms:
        assert ms.get(first["id"]).valid_to == ms.get(second["id"]).created_at
    assert asked == 4  # two notes described, one claims batch per reflect call
