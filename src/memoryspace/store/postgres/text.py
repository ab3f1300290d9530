"""Full text on PostgreSQL: ``tsvector`` + GIN, ranked by BM25 computed in SQL.

Each memory's ``tsv`` holds its words (weight A), tags (B) and dialogue context (C: the text of
up to ``RADIUS`` memories before and after it in its user's, agent's and session's dialogue,
kept by ``refresh_around`` in the same transaction as every write), like the SQLite provider.
``ts_rank_cd`` knows no document frequencies, so the ranking is BM25 as FTS5 computes it:
per query lexeme ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``, with ``tf``
the weighted count of the lexeme's positions (1, 0.5, 0.3 for A, B, C), ``dl`` the number of
distinct lexemes of the memory, and ``idf`` and ``avgdl`` counted among the live memories of
the filter's scope (every row when it names none), so one tenant's memories never change how
another's rank. Candidates come from the GIN index; a scope's statistics are counted over its
rows, and the whole table's are read from the totals the schema's triggers keep
(``schema._TEXT_STATS``), so an unscoped search scans nothing for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from memoryspace.models import Filter, Memory
from memoryspace.store.fts import K1, RADIUS, WEIGHTS, context_of
from memoryspace.store.postgres.connections import Conn, Connections
from memoryspace.store.postgres.sql import scope_clause, where_clause

B = 0.75  # FTS5's bm25() constant b
IDF_FLOOR = 1e-6  # FTS5's idf for a term in more than half the documents

_LEXEMES = """
SELECT DISTINCT l.lexeme FROM unnest(%s::text[]) AS t(term),
    LATERAL unnest(to_tsvector('memoryspace', t.term)) AS l
"""


def lexemes(conn: Conn, terms: Sequence[str]) -> list[str]:
    """The distinct index lexemes of ``terms`` (stemmed as the index stems words)."""
    return sorted(str(row[0]) for row in conn.execute(_LEXEMES, (list(terms),)))


def _query(lexeme_list: Sequence[str], with_context: bool) -> str:
    suffix = "" if with_context else ":AB"
    return " | ".join("'" + x.replace("'", "''") + "'" + suffix for x in lexeme_list)


def _stats(
    conn: Conn, words: Sequence[str], flt: Filter, with_context: bool
) -> tuple[float, float, dict[str, int]]:
    """(documents, their average length, documents holding each lexeme) in the BM25 scope,
    counted in one statement; with no scope, read from the statistics the schema's triggers
    keep (``text_totals``, ``lexeme_documents``) rather than counted over every row."""
    scope, params = scope_clause(flt)
    if not params:
        return _table_stats(conn, words, with_context)
    holding = ", ".join("count(*) FILTER (WHERE m.tsv @@ %s::tsquery)" for _ in words)
    row = conn.execute(
        f"SELECT count(*), COALESCE(avg(length(m.tsv)), 0), {holding} FROM memories m "
        f"WHERE {scope}",
        [*(_query([w], with_context) for w in words), *params],
    ).fetchone()
    assert row is not None
    return float(row[0]), float(row[1]), {w: int(n) for w, n in zip(words, row[2:], strict=True)}


def _table_stats(
    conn: Conn, words: Sequence[str], with_context: bool
) -> tuple[float, float, dict[str, int]]:
    holding = "documents" if with_context else "in_content"
    rows = conn.execute(
        f"SELECT NULL, t.documents, t.lexemes FROM text_totals t UNION ALL "
        f"SELECT lexeme, {holding}, NULL FROM lexeme_documents WHERE lexeme = ANY(%s)",
        (list(words),),
    ).fetchall()
    totals = [row for row in rows if row[0] is None]
    documents, lexemes = (float(totals[0][1]), float(totals[0][2])) if totals else (0.0, 0.0)
    counts = {str(row[0]): int(row[1]) for row in rows if row[0] is not None}
    average = lexemes / documents if documents else 0.0
    return documents, average, {w: counts.get(w, 0) for w in words}


def idf(documents: float, matching: int) -> float:
    """FTS5's BM25 idf, with its floor for terms in more than half the documents."""
    value = math.log((documents - matching + 0.5) / (matching + 0.5))
    return value if value > 0 else IDF_FLOOR


def search(
    conn: Conn,
    terms: Sequence[str],
    k: int,
    flt: Filter,
    now: float | None,
    *,
    with_context: bool = True,
) -> list[tuple[int, float]]:
    """Top ``k`` (key, BM25 score) for memories holding any of ``terms``, best first."""
    if not terms or k < 1:
        return []
    words = lexemes(conn, terms)
    if not words:
        return []
    documents, average, holding = _stats(conn, words, flt, with_context)
    weights = {w: idf(documents, n) for w, n in holding.items() if n > 0}
    # As on SQLite (``store.fts``): a lexeme in more than half the scope has the floor idf and
    # cannot move a ranking, yet makes most rows candidates; skip it when a rarer lexeme alone
    # matches enough memories to fill the list.
    wanted = max(k, 200)
    if any(holding[w] >= wanted and weight > IDF_FLOOR for w, weight in weights.items()):
        weights = {w: weight for w, weight in weights.items() if weight > IDF_FLOOR}
    if not weights:
        return []
    where, params = where_clause(flt, now)
    context_weight = WEIGHTS["context"] if with_context else 0.0
    sql = f"""
        WITH q(lexeme, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[])),
        cand AS (
            SELECT m.key, m.tsv FROM memories m WHERE m.tsv @@ %s::tsquery AND {where}
        )
        SELECT c.key, sum(
            q.idf * t.tf * {K1 + 1.0} /
            (t.tf + {K1} * (1 - {B} + {B} * length(c.tsv) / %s))
        ) AS score
        FROM cand c
        CROSS JOIN LATERAL (
            SELECT u.lexeme, (
                SELECT COALESCE(sum(CASE w WHEN 'A' THEN {WEIGHTS["content"]}
                    WHEN 'B' THEN {WEIGHTS["tags"]} WHEN 'C' THEN {context_weight}
                    ELSE 0 END), 0)
                FROM unnest(u.weights) AS w
            ) AS tf
            FROM unnest(c.tsv) AS u WHERE u.lexeme = ANY(%s::text[])
        ) t
        JOIN q ON q.lexeme = t.lexeme
        WHERE t.tf > 0
        GROUP BY c.key
        ORDER BY score DESC, c.key
        LIMIT %s
    """
    rows = conn.execute(
        sql,
        [
            list(weights),
            list(weights.values()),
            _query(list(weights), with_context),
            *params,
            max(average, 1e-9),
            list(weights),
            k,
        ],
    ).fetchall()
    return [(int(key), float(score)) for key, score in rows]


def max_score(conn: Conn, terms: Sequence[str], flt: Filter, *, with_context: bool = True) -> float:
    """The most ``search`` could give any memory for ``terms``: ``(k1 + 1) * sum(idf)``.

    Lexemes no memory holds count as if one did (as on SQLite); an empty scope's bound is 0.
    """
    words = lexemes(conn, terms)
    if not words:
        return 0.0
    documents, _, holding = _stats(conn, words, flt, with_context)
    if not documents:
        return 0.0
    return (K1 + 1.0) * sum(idf(documents, max(n, 1)) for n in holding.values())


class PostgresTextIndex:
    """The PostgreSQL text provider (a ``TextIndex``) reading through ``db`` (a search is
    run again when its connection drops)."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter,
        now: float | None,
        *,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        return self._db.read(
            "searching text",
            lambda conn: search(conn, terms, k, flt, now, with_context=with_context),
        )

    def bound(self, terms: Sequence[str], flt: Filter) -> float:
        return self._db.read("searching text", lambda conn: max_score(conn, terms, flt))


def _place(memory: Memory) -> tuple[str | None, str | None, str | None, float]:
    return memory.user, memory.agent, memory.session, memory.created_at


def change(conn: Conn, key: int, before: Memory, after: Memory) -> None:
    """Contexts around a changed memory's old and new place follow it."""
    moved = _place(before) != _place(after)
    if moved:
        refresh_around(conn, before, key)
    if moved or before.content != after.content:
        refresh_around(conn, after, key)


def refresh_sessions(conn: Conn, places: set[tuple[str | None, str | None, str]]) -> None:
    """Recompute the context of every memory in each (user, agent, session) dialogue of
    ``places`` in one statement per dialogue: cheaper than ``refresh_around`` per memory when
    a batch adds many turns to one session. Rows whose context is unchanged are not written."""
    neighbours = ", ".join(
        [f"lag(content, {d}) OVER w" for d in range(RADIUS, 0, -1)]
        + [f"lead(content, {d}) OVER w" for d in range(1, RADIUS + 1)]
    )
    for user, agent, session in sorted(places, key=repr):
        conn.execute(
            f"""
            WITH ctx AS (
                SELECT key, concat_ws(' ', {neighbours}) AS context FROM memories
                WHERE session = %s AND "user" IS NOT DISTINCT FROM %s
                    AND agent IS NOT DISTINCT FROM %s
                WINDOW w AS (ORDER BY created_at, key)
            )
            UPDATE memories m SET context = ctx.context FROM ctx
            WHERE m.key = ctx.key AND m.context <> ctx.context
            """,
            (session, user, agent),
        )


def refresh_around(conn: Conn, place: Memory, key: int) -> None:
    """Recompute the context of the memories within ``RADIUS`` of ``place`` (the memory with
    ``key``, as it is or was) among the memories of its user, agent and session."""
    user, agent, session, created_at = _place(place)
    if session is None:
        conn.execute("UPDATE memories SET context = '' WHERE key = %s AND context <> ''", (key,))
        return
    reach = 2 * RADIUS
    same = 'session = %s AND "user" IS NOT DISTINCT FROM %s AND agent IS NOT DISTINCT FROM %s'
    scope = (session, user, agent)
    before = conn.execute(
        f"SELECT key, content FROM memories WHERE {same} AND "
        "(created_at < %s OR (created_at = %s AND key < %s)) "
        "ORDER BY created_at DESC, key DESC LIMIT %s",
        (*scope, created_at, created_at, key, reach),
    ).fetchall()[::-1]
    me = conn.execute(
        f"SELECT key, content FROM memories WHERE key = %s AND {same}", (key, *scope)
    ).fetchall()
    after = conn.execute(
        f"SELECT key, content FROM memories WHERE {same} AND "
        "(created_at > %s OR (created_at = %s AND key > %s)) ORDER BY created_at, key LIMIT %s",
        (*scope, created_at, created_at, key, reach),
    ).fetchall()
    sequence: list[tuple[int, str]] = [(int(r[0]), str(r[1])) for r in before + me + after]
    centre = len(before)
    first = max(0, centre - RADIUS)
    last = min(len(sequence), centre + len(me) + RADIUS)
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE memories SET context = %s WHERE key = %s AND context <> %s",
            [
                (context_of(sequence, i), sequence[i][0], context_of(sequence, i))
                for i in range(first, last)
            ],
        )
