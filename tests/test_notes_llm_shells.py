"""Notes and reflection with a model, through the shells a user calls: the CLI (a real
process) and the REST server (a real server on 127.0.0.1), both against the loopback chat
server. The model tags notes and reads 'Japan: <month>' as the trip's time, which the offline
rules do not, so a closing proves the model's claims were used."""

from __future__ import annotations

from pathlib import Path

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
