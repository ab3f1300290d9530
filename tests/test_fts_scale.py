"""The full-text index's shortcuts for scale give the answers the plain queries give.

Scoped BM25 reads only the scope's key range and takes the table's size from FTS5's own
averages record; these tests check both against what a user can see: the same ranking and scores
as a database holding that user's memories alone, and the true row count after deletes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.models import Filter
from memoryspace.retrieval.terms import query_terms
from memoryspace.store import fts

WORDS = ["river", "stone", "garden", "violin", "harbour"]
WORDS += ["lantern", "meadow", "copper", "orchard", "falcon"]


def sentence(i: int) -> str:
    """A deterministic sentence; 'the' and 'river' are in most, the rest spread out."""
    picked = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3)]
    return f"the river and the {' '.join(picked)} number {i % 5}"


def scored(ms: MemorySpace, query: str, flt: Filter) -> list[tuple[str, float]]:
    keys = ms.store.text_search(query_terms(query), 20, flt)
    by_key = ms.store.get_by_keys([key for key, _ in keys])
    return [(by_key[key].content, round(score, 6)) for key, score in keys]


@pytest.mark.parametrize("layout", ["interleaved", "blocks"])
def test_scoped_bm25_equals_a_database_of_that_user_alone(tmp_path: Path, layout: str) -> None:
    texts = [sentence(i) for i in range(120)]
    users = [
        "alice" if (i % 3 == 0 if layout == "interleaved" else i >= 80) else "bob"
        for i in range(120)
    ]
    with (
        MemorySpace.open(tmp_path / "shared.db", embedder=HashingEmbedder()) as shared,
        MemorySpace.open(tmp_path / "alone.db", embedder=HashingEmbedder()) as alone,
    ):
        shared.add_many([{"content": t, "user": u} for t, u in zip(texts, users, strict=True)])
        alone.add_many(
            [
                {"content": t, "user": "alice"}
                for t, u in zip(texts, users, strict=True)
                if u == "alice"
            ]
        )
        for query in ("violin harbour", "the river garden", "falcon copper number 3", "zebra"):
            mine = scored(shared, query, Filter(user="alice"))
            expected = scored(alone, query, Filter(user="alice"))
            assert [content for content, _ in mine] == [content for content, _ in expected]
            assert [score for _, score in mine] == pytest.approx([s for _, s in expected])
        assert scored(shared, "violin", Filter(user="nobody")) == []


def test_the_row_count_from_fts5_matches_the_table_after_deletes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        added = ms.add_many([sentence(i) for i in range(300)])
        for memory in added[::4]:
            ms.delete(memory.id)
    conn = sqlite3.connect(path)
    try:
        assert (
            fts._row_count(conn)
            == 225
            == conn.execute("SELECT count(*) FROM memories").fetchone()[0]
        )
    finally:
        conn.close()


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16_383, 16_384, 2**31, 2**56 + 5, 2**63 - 1])
def test_varints_decode_as_sqlite_writes_them(value: int) -> None:
    assert fts._varint(_sqlite_varint(value) + b"\xff") == value


def _sqlite_varint(value: int) -> bytes:
    """SQLite's varint encoder (sqlite4-style big-endian groups of 7 bits, 9th byte whole)."""
    if value > 0x00FFFFFFFFFFFFFF:
        out = [value & 0xFF]
        value >>= 8
        for _ in range(8):
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes(reversed(out))
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


def test_remembered_term_counts_follow_another_process_writes(tmp_path: Path) -> None:
    """Counts a search remembered are dropped when anything is logged, also by another handle
    on the file, so scores always equal those of a handle that remembers nothing."""
    db = tmp_path / "m.db"
    flt = Filter(user="alice")
    with MemorySpace.open(db, embedder=HashingEmbedder()) as ms:
        ms.add_many([{"content": sentence(i), "user": "alice"} for i in range(40)])
        first = scored(ms, "violin harbour", flt)
        assert scored(ms, "violin harbour", flt) == first
        assert ms.store.text_index.stats.hits > 0  # the second search used remembered counts
        with MemorySpace.open(db, embedder=HashingEmbedder()) as other:
            other.add_many([{"content": "violin violin", "user": "alice"} for _ in range(30)])
        after = scored(ms, "violin harbour", flt)
        assert after != first
        with MemorySpace.open(db, embedder=HashingEmbedder()) as fresh:
            assert after == scored(fresh, "violin harbour", flt)
        assert ms.store.text_bound(["violin"], flt) == fresh_bound(db, ["violin"], flt)


def fresh_bound(db: Path, terms: list[str], flt: Filter) -> float:
    with MemorySpace.open(db, embedder=HashingEmbedder()) as fresh:
        return fresh.store.text_bound(terms, flt)


def test_counts_inside_a_write_transaction_are_not_remembered(tmp_path: Path) -> None:
    """A rolled-back transaction gives its log sequence numbers back; counts taken inside it
    must not be served once a later write reaches the same number."""
    flt = Filter(user="alice")
    with MemorySpace.open(tmp_path / "m.db", embedder=HashingEmbedder()) as ms:
        ms.add_many([{"content": sentence(i), "user": "alice"} for i in range(40)])
        before = ms.store.text_bound(["falcon"], flt)
        with pytest.raises(RuntimeError), ms.store.transaction():
            ms.add("falcon falcon falcon", user="alice")
            assert ms.store.text_bound(["falcon"], flt) != before
            raise RuntimeError("roll back")
        ms.add("a lantern by the meadow", user="alice")  # takes the rolled-back number
        assert ms.store.text_bound(["falcon"], flt) == fresh_bound(
            tmp_path / "m.db", ["falcon"], flt
        )


def test_a_remembered_scope_range_follows_another_process_writes(tmp_path: Path) -> None:
    """A scope's key range, remembered between searches, widens when another handle adds to
    the scope: the new memory (past the old range) is found at once."""
    db = tmp_path / "m.db"
    flt = Filter(user="alice")
    with MemorySpace.open(db, embedder=HashingEmbedder()) as ms:
        ms.add_many([{"content": sentence(i), "user": "alice"} for i in range(20)])
        ms.add_many([{"content": sentence(i), "user": "bob"} for i in range(20)])
        assert ms.store.text_search(["zyzzogeton"], 10, flt) == []
        assert ms.store.text_search(["zyzzogeton"], 10, flt) == []
        stats = ms.store.text_index.stats
        assert (stats.span_misses, stats.span_hits) == (1, 1)
        with MemorySpace.open(db, embedder=HashingEmbedder()) as other:
            late = other.add("a zyzzogeton over the harbour", user="alice")
        found = [key for key, _ in ms.store.text_search(["zyzzogeton"], 10, flt)]
        assert found == [ms.store.key_of(late.id)]
        assert stats.span_misses == 2
