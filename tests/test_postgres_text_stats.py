"""PostgreSQL's whole-table BM25 statistics (``text_totals``, ``lexeme_documents``), kept by
triggers, always equal what counting every row gives: through adds (one by one and in
batches, with dialogue contexts), updates, deletes, purges, restores, concurrent writers and
the migration that creates them."""

from __future__ import annotations

import threading

import psycopg
import pytest

from memoryspace.models import Filter
from memoryspace.store.postgres import PostgresStore
from memoryspace.store.postgres.text import _stats, _table_stats
from store_contract import make_memory

Stats = tuple[tuple[int, int], list[tuple[str, int, int]]]


def kept(url: str) -> Stats:
    with psycopg.connect(url, autocommit=True) as conn:
        totals = conn.execute("SELECT documents, lexemes FROM text_totals").fetchone()
        assert totals is not None
        words = conn.execute(
            "SELECT lexeme, documents, in_content FROM lexeme_documents ORDER BY lexeme"
        ).fetchall()
    return (int(totals[0]), int(totals[1])), [(str(w), int(d), int(c)) for w, d, c in words]


def counted(url: str) -> Stats:
    with psycopg.connect(url, autocommit=True) as conn:
        totals = conn.execute(
            "SELECT count(*), COALESCE(sum(length(tsv)), 0) FROM memories"
        ).fetchone()
        assert totals is not None
        words = conn.execute(
            "SELECT u.lexeme, count(*), count(*) FILTER (WHERE u.weights && '{A,B}'::text[]) "
            "FROM memories m, unnest(m.tsv) u GROUP BY u.lexeme ORDER BY u.lexeme"
        ).fetchall()
    return (int(totals[0]), int(totals[1])), [(str(w), int(d), int(c)) for w, d, c in words]


def turn(id: str, content: str, at: float, session: str = "s1", **fields: object) -> object:
    return make_memory(id, content, user="u", session=session, created_at=at, **fields)


def test_the_kept_statistics_follow_every_kind_of_write(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        assert kept(pg_url) == counted(pg_url) == ((0, 0), [])
        store.insert([(turn("a", "the red fox jumps", 1.0), None)])  # one by one
        store.insert([(turn("b", "a lazy dog sleeps", 2.0), None)])
        batch = [
            (turn(f"t{i}", f"turn {i} about foxes and dogs", 3.0 + i), None) for i in range(12)
        ]
        store.insert(batch)  # a batch: contexts refreshed per session at the end
        store.insert([(make_memory("solo", "no session, tagged", tags=["zebra"]), None)])
        assert kept(pg_url) == counted(pg_url)
        store.update("a", {"content": "the quick brown fox"})
        store.update("solo", {"tags": ["okapi"]})  # a word only in tags (weight B)
        store.update("b", {"session": "s2"})  # moves: two dialogues' contexts change
        store.update("t3", {"importance": 0.9})  # no word changes
        assert kept(pg_url) == counted(pg_url)
        store.checkpoint("mid")
        store.delete(["t5", "t6"])
        store.purge(["a"])
        assert kept(pg_url) == counted(pg_url)
        words = [w for w, _, _ in kept(pg_url)[1]]
        assert "quick" not in words and "brown" not in words  # erased with the memory
        store.restore("mid")
        assert kept(pg_url) == counted(pg_url)


def test_the_kept_statistics_match_what_the_query_counts(pg_url: str) -> None:
    """The table path gives the same numbers as counting with ``@@`` (the scoped path's way),
    with and without the dialogue context."""
    with PostgresStore(pg_url) as store:
        store.insert(
            [
                (turn(f"m{i}", f"memory {i} of cats and {'owls' if i % 3 else 'bats'}", i), None)
                for i in range(20)
            ]
        )
        store.insert([(make_memory("t", "tagged", tags=["owls"]), None)])
        words = ["cat", "owl", "bat", "memori", "absent"]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for with_context in (True, False):
                table = _table_stats(conn, words, with_context)
                # A scope that covers every row counts them the old way.
                scanned = _stats(conn, words, Filter(user="u"), with_context)
                everyone = conn.execute("SELECT count(*) FROM memories").fetchone()
                assert everyone is not None and table[0] == int(everyone[0]) == 21
                assert table[2]["absent"] == 0
                for word in ("cat", "bat"):  # only "u"'s memories hold these
                    assert table[2][word] == scanned[2][word] > 0
            assert _table_stats(conn, ["owl"], True)[2]["owl"] == 21  # tags count, weight B
            assert _table_stats(conn, ["bat"], False)[2]["bat"] == 7  # content only
            assert _table_stats(conn, ["bat"], True)[2]["bat"] > 7  # neighbours' context


def test_concurrent_writers_keep_the_statistics_exact(pg_url: str) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with PostgresStore(pg_url) as store:
                for i in range(8):
                    store.insert(
                        [(turn(f"w{n}-{i}", f"writer {n} line {i} shared", i, f"s{n}"), None)]
                    )
                    if i % 3 == 2:
                        store.update(f"w{n}-{i - 1}", {"content": f"rewritten {n} {i}"})
                store.insert(
                    [
                        (turn(f"b{n}-{i}", f"batch {n} {i} shared", 50 + i, f"s{n}"), None)
                        for i in range(10)
                    ]
                )
                store.delete([f"w{n}-0"])
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert kept(pg_url) == counted(pg_url)
    assert kept(pg_url)[0][0] == 4 * (8 + 10 - 1)


def test_a_database_from_before_the_statistics_gets_them_on_open(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.insert([(turn(f"m{i}", f"old memory {i} about pears", i), None) for i in range(9)])
    with psycopg.connect(pg_url, autocommit=True) as conn:  # back to schema v3: no statistics
        conn.execute("DROP TABLE text_totals, lexeme_documents")
        for event in ("insert", "update", "delete"):
            conn.execute(f"DROP FUNCTION memoryspace_text_stats_{event}() CASCADE")
        conn.execute("UPDATE settings SET value = '3' WHERE key = 'schema.version'")
    with PostgresStore(pg_url) as store:
        assert kept(pg_url) == counted(pg_url)
        assert kept(pg_url)[0][0] == 9
        store.insert([(turn("new", "a new pear", 100.0), None)])
        assert kept(pg_url) == counted(pg_url)


@pytest.mark.parametrize("with_context", [True, False])
def test_unscoped_search_ranks_as_counting_every_row_would(pg_url: str, with_context: bool) -> None:
    """Same order and scores from the kept statistics as from a scope that holds every row."""
    with PostgresStore(pg_url) as store:
        store.insert(
            [
                (
                    turn(
                        f"m{i}", f"note {i}: {'apples' if i % 2 else 'pears'} and plums {i % 5}", i
                    ),
                    None,
                )
                for i in range(30)
            ]
        )
        terms = ["apples", "plums", "note"]
        everyone = store.text_index.search(terms, 10, Filter(), None, with_context=with_context)
        scoped = store.text_index.search(
            terms, 10, Filter(user="u"), None, with_context=with_context
        )
        assert everyone and [k for k, _ in everyone] == [k for k, _ in scoped]
        assert [round(s, 9) for _, s in everyone] == [round(s, 9) for _, s in scoped]


def test_a_word_in_most_memories_is_skipped_without_changing_the_ranking(pg_url: str) -> None:
    """ "common" is in every memory (the floor idf); "rare" in 250 of 600, enough to fill the
    list alone, so the search skips "common" and ranks exactly as "rare" alone does."""
    with PostgresStore(pg_url) as store:
        store.insert(
            [
                (
                    make_memory(
                        f"m{i}",
                        f"common words {i} " + ("rare " * (1 + i % 4) if i % 12 < 5 else "other"),
                    ),
                    None,
                )
                for i in range(600)
            ]
        )
        both = store.text_index.search(["common", "rare"], 20, Filter(), None)
        alone = store.text_index.search(["rare"], 20, Filter(), None)
        assert [k for k, _ in both] == [k for k, _ in alone]
        np_both = [round(s, 9) for _, s in both]
        assert np_both == [round(s, 9) for _, s in alone]
        # Below the list size the floor word still counts: every "common" memory is found.
        few = store.text_index.search(["common"], 5, Filter(), None)
        assert len(few) == 5
