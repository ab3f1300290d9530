"""Nothing acknowledged is lost under concurrency: real processes and threads on one file.

The editors print every edit once ``update`` returned (acknowledged); afterwards the last
acknowledged value of every (record, field) must be what the database holds, and every stored
vector must be the embedding of its record's content.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoryspace import HashingEmbedder, MemorySpace, Settings
from memoryspace.errors import Conflict
from memoryspace.gc import Collector, Plan
from memoryspace.models import Memory

WORKERS = Path(__file__).parent / "workers"
SECONDS = os.environ.get("MEMORYSPACE_RACE_SECONDS", "6")


def _start(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready.strip() == "ready", proc.stderr.read() if proc.stderr else ready
    return proc


def _lines(proc: subprocess.Popen[str]) -> list[str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out.splitlines()


def _last_acknowledged(lines: Sequence[str]) -> dict[tuple[str, str], Any]:
    last: dict[tuple[str, str], Any] = {}
    for line in lines:
        ack = json.loads(line)
        last[(ack["id"], ack["field"])] = ack["value"]
    return last


def _lost(ms: MemorySpace, expected: dict[tuple[str, str], Any]) -> list[str]:
    lost = []
    for (id, field), value in expected.items():
        got = getattr(ms.get(id), field)
        if isinstance(got, tuple):
            got = list(got)
        if got != value:
            lost.append(f"{id}.{field}: acknowledged {value!r}, stored {got!r}")
    return lost


def _vectors_off(ms: MemorySpace) -> list[str]:
    """Records whose stored vector is not the embedding of their content (to float16's
    precision, which new databases store: a wrong text's vector is off by far more)."""
    records = list(ms.scan(include_archived=True, include_expired=True))
    keys = {m.id: ms.store.key_of(m.id) for m in records}
    stored = ms.store.vectors(list(keys.values()))
    wanted = ms.embedder.embed([m.content for m in records])
    return [
        m.id
        for m, vector in zip(records, wanted, strict=True)
        if not np.allclose(stored[keys[m.id]], vector, atol=1e-3)
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the racing processes meet: one SQLite file, or one PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "race.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.mark.multiprocess
def test_garbage_collection_never_reverts_an_acknowledged_edit(database: str) -> None:
    path = database
    MemorySpace.open(path, embedder=HashingEmbedder()).close()
    editors = [_start(str(WORKERS / "editor.py"), path, "own", f"w{n}", SECONDS) for n in (1, 2)]
    collector = _start(str(WORKERS / "collector.py"), path, SECONDS)
    lines = [line for proc in editors for line in _lines(proc)]
    collections = [line.split() for line in _lines(collector)]
    collected = sum(int(c[1]) for c in collections)
    assert collected > 0, "the collector never collected: no race was tried"
    expected = _last_acknowledged(lines)
    assert len(lines) > 100, "the editors did too little to race"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert _lost(ms, expected) == []
        assert _vectors_off(ms) == []
        archived = ms.count(include_archived=True) - ms.count()
        assert archived > 0  # collections landed between the edits
    skipped = sum(int(c[2]) for c in collections)
    print(f"{len(lines)} acknowledged edits; {len(collections)} collections:", end=" ")
    print(f"{collected} collected, {skipped} skipped")


@pytest.mark.multiprocess
def test_concurrent_partial_updates_across_processes_and_threads_lose_nothing(
    database: str,
) -> None:
    path = database
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add_many([{"id": f"s{n}", "content": f"shared {n}"} for n in range(10)])
    groups = ["content,importance", "tags,pinned", "valid_to,meta"]
    editors = [_start(str(WORKERS / "editor.py"), path, "fields", g, SECONDS) for g in groups]
    lines = [line for proc in editors for line in _lines(proc)]
    assert len(lines) > 100, "the editors did too little to race"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert _lost(ms, _last_acknowledged(lines)) == []
        assert _vectors_off(ms) == []
        assert ms.lsn >= 10 + len(lines)  # every acknowledged update is in the log
    print(f"{len(lines)} acknowledged partial updates, 0 lost")


class _BlockingEmbedder(HashingEmbedder):
    """Embeds only when released, so a test can hold an update in the middle of embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> Any:
        self.started.set()
        assert self.release.wait(10)
        return super().embed(texts)


def test_an_edit_made_while_another_is_embedding_is_kept(tmp_path: Path) -> None:
    embedder = _BlockingEmbedder()
    embedder.release.set()
    with MemorySpace.open(tmp_path / "a.db", embedder=embedder) as ms:
        ms.add("first text", id="x")
        embedder.release.clear()
        embedder.started.clear()
        editing = threading.Thread(target=lambda: ms.update("x", content="second text"))
        editing.start()
        assert embedder.started.wait(10)
        ms.update("x", tags=["vip"], importance=0.9)  # while the content is being embedded
        embedder.release.set()
        editing.join()
        got = ms.get("x")
        assert (got.content, got.tags, got.importance) == ("second text", ("vip",), 0.9)
        assert _vectors_off(ms) == []


def test_if_version_is_compare_and_set(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as ms:
        seen = ms.add("a plan", id="x")
        first = ms.update("x", if_version=seen.version, importance=0.2)
        assert first.version > seen.version
        lsn = ms.lsn
        with pytest.raises(Conflict, match="read it again"):
            ms.update("x", if_version=seen.version, content="from a stale copy")
        assert ms.get("x").content == "a plan" and ms.lsn == lsn


@pytest.mark.parametrize("write_policy", ["write_through", "write_back"])
def test_if_version_through_a_hot_tier(tmp_path: Path, write_policy: str) -> None:
    settings = Settings(hot_tier_records=8, hot_tier_write_policy=write_policy)
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder(), settings=settings) as ms:
        seen = ms.add("a plan", id="x")
        ms.update("x", importance=0.3)  # dirty in write-back: the store is still at seen
        with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as other:
            other.update("x", tags=["theirs"])
        with pytest.raises(Conflict):
            ms.update("x", if_version=seen.version, content="stale")
        ms.flush()
        got = ms.backing.get("x")  # the database itself
        assert (got.importance, got.tags, got.content) == (0.3, ("theirs",), "a plan")
        # "read it again and retry" works through the tier: the conflict refreshed its copy
        again = ms.get("x")
        assert again.tags == ("theirs",)
        assert ms.update("x", if_version=again.version, content="fresh").content == "fresh"


def test_a_write_back_of_a_record_deleted_elsewhere_never_poisons_the_handle(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.db"
    settings = Settings(hot_tier_records=8, hot_tier_write_policy="write_back")
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        ms.add_many([{"id": "x", "content": "doomed"}, {"id": "y", "content": "kept"}])
        ms.update("x", importance=0.9)
        ms.update("y", importance=0.8)
        assert ms.hot_tier is not None and ms.hot_tier.is_dirty("x")
        with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
            other.delete("x")
        # the store wins for a record deleted elsewhere; the other dirty edits are written
        assert ms.count() == 1
        assert [h.memory.id for h in ms.search("kept")] == ["y"]
        ms.checkpoint("after")
        assert ms.hot_tier.stats()["write_back_dropped"] == 1
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert ms.get("y").importance == 0.8
        assert [m.id for m in ms.scan()] == ["y"]


def test_a_write_back_keeps_fields_changed_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    settings = Settings(hot_tier_records=8, hot_tier_write_policy="write_back")
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        ms.add("the original", id="x")
        ms.update("x", importance=0.9)  # dirty
        with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
            other.update("x", content="edited elsewhere", tags=["t"])
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        got = ms.get("x")
        assert (got.content, got.tags, got.importance) == ("edited elsewhere", ("t",), 0.9)
        assert _vectors_off(ms) == []


def test_a_collection_skips_records_changed_after_its_scan(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add_many([{"id": f"n{i}", "content": f"note {i}", "kind": "note"} for i in range(4)])

        class EditsMidway(Collector):
            """Collects every record; another handle edits n0 and pins n1 after the scan."""

            name = "midway"

            def plan(self, memories: Sequence[Memory], now: float) -> Plan:
                with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
                    other.update("n0", content="edited after the scan")
                    other.pin("n1")
                return Plan(scanned=len(memories), collect=tuple(memories))

        event = ms.gc(EditsMidway())
        assert (event.collected, event.skipped) == (2, 2)
        assert not ms.get("n0").archived and ms.get("n0").content == "edited after the scan"
        assert not ms.get("n1").archived and ms.get("n1").pinned
        assert ms.get("n2").archived and ms.get("n3").archived


def test_a_conversation_under_a_write_back_tier_keeps_exactly_its_short_term_pages(
    tmp_path: Path,
) -> None:
    from memoryspace.conversation import ConversationSettings
    from memoryspace.conversation.state import Place, page_state

    path = tmp_path / "a.db"
    settings = Settings(hot_tier_records=64, hot_tier_write_policy="write_back")
    chat = ConversationSettings(stm_capacity=2)
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        conversation = ms.conversation(user="ana", settings=chat)
        for n in range(8):
            conversation.add_turn(f"question {n} about topic {n}", f"answer {n}")
        assert len(conversation.stm) == 2
        turns = ms.scan(user="ana", kind="turn")
        flagged = [m.id for m in turns if page_state(m).place is Place.STM]
        assert flagged == [page.id for page in conversation.stm]
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        rebuilt = ms.conversation(user="ana", settings=chat)
        assert len(rebuilt.stm) == 2
