"""Isolation inside the full-text index: a memory's dialogue context holds only the words of
its own user, agent and session, so one user's BM25 scores reveal nothing another user said."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.store.schema import MIGRATIONS

START = 1_700_000_000.0


@pytest.fixture
def ms(tmp_path: Path) -> MemorySpace:
    space = MemorySpace.open(tmp_path / "m.db", embedder=HashingEmbedder())
    yield space
    space.close()


def interleave(ms: MemorySpace) -> dict[str, str]:
    """Two users take turns in one session id; user B's turns hold words A never said."""
    turns = [
        ("alice", "Where did you travel last summer?"),
        ("bob", "My saxophone teacher lives in Reykjavik"),
        ("alice", "Sweden, mostly the lakes"),
        ("bob", "Reykjavik winters are long and the saxophone sounds better indoors"),
        ("alice", "I also visited my grandmother there"),
    ]
    ids = {}
    for i, (user, text) in enumerate(turns):
        memory = ms.add(text, user=user, session="shared-1", timestamp=START + i)
        ids[text] = memory.id
    return ids


def sparse_hits(ms: MemorySpace, query: str, **scope: str) -> dict[str, float]:
    """Ids of the hits BM25 scored, with their scores (dense-only hits are left out)."""
    return {
        hit.memory.id: hit.parts.sparse
        for hit in ms.search(query, k=10, touch=False, **scope)
        if hit.parts.sparse is not None
    }


def test_a_scoped_search_finds_nothing_through_another_users_words(ms: MemorySpace) -> None:
    interleave(ms)
    assert sparse_hits(ms, "saxophone Reykjavik", user="alice") == {}
    assert sparse_hits(ms, "saxophone Reykjavik", user="alice", session="shared-1") == {}


def test_a_users_own_neighbouring_turns_still_lend_their_words(ms: MemorySpace) -> None:
    ids = interleave(ms)
    found = sparse_hits(ms, "travel summer", user="alice")
    # "Sweden, mostly the lakes" has none of the words; its neighbour question lends them.
    assert ids["Sweden, mostly the lakes"] in found
    assert set(found) <= {
        ids["Where did you travel last summer?"],
        ids["Sweden, mostly the lakes"],
        ids["I also visited my grandmother there"],
    }
    bob = sparse_hits(ms, "saxophone", user="bob")
    assert set(bob) == {
        ids["My saxophone teacher lives in Reykjavik"],
        ids["Reykjavik winters are long and the saxophone sounds better indoors"],
    }


def test_moving_a_turn_to_another_user_moves_its_words(ms: MemorySpace) -> None:
    ids = interleave(ms)
    question = ids["Where did you travel last summer?"]
    ms.update(question, user="bob")
    assert sparse_hits(ms, "travel summer", user="alice") == {}
    assert question in sparse_hits(ms, "travel summer", user="bob")


def test_opening_an_older_database_rebuilds_the_contexts_per_user(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        interleave(ms)
        ms.add("a turn outside any session", user="alice", timestamp=START)
        ms.add("carol's turn", user="carol", agent="bot", session="shared-1", timestamp=START + 2)
    with sqlite3.connect(path) as conn:
        want = contexts(conn)
        assert any(want.values())  # the neighbours lend words
        conn.execute("UPDATE memories_fts SET context = 'leaked words'")  # as before the fix
        rebuild = next(i for i, script in enumerate(MIGRATIONS) if "context_rebuild" in script)
        conn.execute(f"PRAGMA user_version = {rebuild}")  # the version before the rebuild
    conn.close()
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert sparse_hits(ms, "saxophone", user="alice") == {}
    with sqlite3.connect(path) as conn:
        assert contexts(conn) == want
    conn.close()


def contexts(conn: sqlite3.Connection) -> dict[int, str]:
    return dict(conn.execute("SELECT rowid, context FROM memories_fts ORDER BY rowid"))
